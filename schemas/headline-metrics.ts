// The few metrics a person watches while a stage trains, and the labels they are shown under: `agentrl run` and
// `agentrl status` print them, and each stage sends them to the pipeline's own Web UI page. One list, so the three
// agree on what "latest metrics" means.
import type { StepMetrics } from './stage.ts';

export interface Headline {
  label: string;
  value: number;
  /** Decimals a terminal line shows (significant digits after the first where `exponent`). */
  digits: number;
  exponent?: boolean;
  /** Said after the value in a terminal line, e.g. "averaged over sources". */
  note?: string;
}

/** "label value (note)", as `agentrl run` and `agentrl status` print it. */
export function formatHeadline(h: Headline[]): string {
  return h.map((x) => `${x.label} ${x.exponent ? x.value.toExponential(x.digits) : x.value.toFixed(x.digits)}${x.note ? ` (${x.note})` : ''}`).join(', ');
}

/**
 * The prefix of the baseline model's validation metrics (the model SFT started from, validated before training):
 * val-baseline/<source>/acc/mean@n, .../tool_call_rate, ..., in place of verl's val-core/ and val-aux/.
 */
export const VAL_BASELINE_PREFIX = 'val-baseline/';

/** Validation accuracy mean@n averaged over sources (verl's val-core/<source>/acc/mean@n keys), if the row has it. */
export function validationMean(m: Record<string, number>): { n: number; mean: number } | undefined {
  const keys = Object.keys(m).filter((k) => /^val-core\/[^/]+\/acc\/mean@\d+$/u.test(k));
  if (keys.length === 0) return undefined;
  return { n: Number(keys[0].split('@')[1]), mean: keys.reduce((s, k) => s + m[k], 0) / keys.length };
}

const GRPO: [key: string, label: string, digits: number][] = [
  ['critic/score/mean', 'score', 3],
  ['tool_call_counts/mean', 'tool calls', 2],
  ['response_length/mean', 'response length', 0],
  ['actor/entropy', 'entropy', 3],
  ['actor/pg_loss', 'pg_loss', 4],
];

/** An RL step's headline: score, tool calls, response length, entropy, pg_loss, and validation when the step ran it. */
export function grpoHeadline(m: Record<string, number>): Headline[] {
  const out: Headline[] = GRPO.filter(([key]) => typeof m[key] === 'number').map(([key, label, digits]) => ({ label, value: m[key], digits }));
  const val = validationMean(m);
  if (val) out.push({ label: `validation mean@${val.n}`, value: val.mean, digits: 3, note: 'averaged over sources' });
  return out;
}

/** An SFT step's headline: loss, grad norm, lr, throughput. */
export function sftHeadline(m: StepMetrics): Headline[] {
  return [
    { label: 'loss', value: m.loss, digits: 4 },
    { label: 'grad norm', value: m.grad_norm, digits: 3 },
    { label: 'lr', value: m.lr, digits: 2, exponent: true },
    { label: 'tokens/s', value: m.tokens_per_s, digits: 0 },
  ];
}
