// The learning evidence in one table: validation accuracy (mean@n) and tool-call rate per source before SFT (the
// baseline model the pipeline has the GRPO stage validate, val-baseline/...), after SFT (the GRPO stage's
// validation before training) and at its last validation point, with the mean over sources. Read from the GRPO
// metrics table (verl's val-core/ and val-aux/ names).
import { esc, table, type Cell } from './html.ts';
import type { MetricSeries } from './metrics.ts';
import { VAL_BASELINE_PREFIX } from '../schemas/headline-metrics.ts';

interface Column {
  label: string;
  acc: (source: string) => number | undefined;
  tools: (source: string) => number | undefined;
}

export function validationComparison(series: readonly MetricSeries[]): string {
  const byName = new Map(series.map((s) => [s.name, s.points]));
  const accNames = series.map((s) => /^val-core\/([^/]+)\/acc\/(mean@\d+)$/u.exec(s.name)).filter((m): m is RegExpExecArray => m !== null);
  if (accNames.length === 0) return '';
  const sources = accNames.map((m) => m[1]).sort();
  const at = accNames[0][2];
  const first = (name: string) => byName.get(name)?.[0];
  const last = (name: string) => byName.get(name)?.at(-1);
  const firstStep = first(`val-core/${sources[0]}/acc/${at}`)!.step;
  const lastStep = last(`val-core/${sources[0]}/acc/${at}`)!.step;
  const columns: Column[] = [];
  if (sources.some((s) => byName.has(`${VAL_BASELINE_PREFIX}${s}/acc/${at}`))) {
    columns.push({ label: 'before SFT', acc: (s) => first(`${VAL_BASELINE_PREFIX}${s}/acc/${at}`)?.value, tools: (s) => first(`${VAL_BASELINE_PREFIX}${s}/tool_call_rate`)?.value });
  }
  columns.push({ label: `step ${firstStep}${firstStep === 0 ? ' (after SFT)' : ''}`, acc: (s) => first(`val-core/${s}/acc/${at}`)?.value, tools: (s) => first(`val-aux/${s}/tool_call_rate`)?.value });
  if (lastStep !== firstStep) columns.push({ label: `step ${lastStep}`, acc: (s) => last(`val-core/${s}/acc/${at}`)?.value, tools: (s) => last(`val-aux/${s}/tool_call_rate`)?.value });
  const mean = (f: (s: string) => number | undefined): Cell => {
    const xs = sources.map(f);
    return xs.every((x) => x !== undefined) ? round((xs as number[]).reduce((a, b) => a + b, 0) / xs.length) : '—';
  };
  const rows: Cell[][] = sources.map((s) => [s, ...columns.map((c) => round(c.acc(s))), ...columns.map((c) => round(c.tools(s)))]);
  rows.push([{ html: '<b>mean over sources</b>' }, ...columns.map((c) => mean(c.acc)), ...columns.map((c) => mean(c.tools))]);
  const head = ['source', ...columns.map((c) => `accuracy ${at}, ${c.label}`), ...columns.map((c) => `tool-call rate, ${c.label}`)];
  return `<h3 id="grpo-validation-compare">Validation before SFT, after SFT and after GRPO</h3>
<p class="note">The same held-out prompts (${esc(sources.length)} sources), ${esc(at)} answers each. A dash: not measured.</p>
${table(head, rows)}`;
}

function round(x: number | undefined): Cell {
  return x === undefined ? '—' : Math.round(x * 1000) / 1000;
}
