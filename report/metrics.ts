// Per-step metrics of a training stage, grouped into the plots a reader looks for first. The column sets are the
// stages' to choose (verl's names for GRPO), so grouping is by pattern: known names land in named sections in a
// fixed order, and every other numeric column is still plotted, grouped by its name's prefix (`timing_s/...`).
import { ReportInputError, isNumericType, numericColumn, readArrowTable } from './table.ts';

export interface MetricSeries {
  name: string;
  points: { step: number; value: number }[];
}

export interface MetricsTable {
  path: string;
  /** The column the x axis shows ('step', 'global_step', ...), or 'row' when the table has none. */
  stepColumn: string;
  rows: number;
  series: MetricSeries[];
}

export interface SectionRule {
  title: string;
  /** Columns whose name matches go here (first matching rule wins). */
  match: RegExp;
  /** overlay: one chart, a line per column (same unit); facet: one small chart per column, own y scale. */
  layout: 'overlay' | 'facet';
  note?: string;
}

export interface MetricSection {
  title: string;
  /** A named section of SECTION_RULES (false: a group by name prefix). */
  known: boolean;
  layout: 'overlay' | 'facet';
  note?: string;
  series: MetricSeries[];
}

const STEP_COLUMNS = ['step', 'global_step', 'training/global_step', 'rl_step', 'iteration'];

// Per-stage rules, in the order the sections are shown. Statistics other than the mean (max/min/std) of the
// reward go to their prefix group so the reward chart stays readable.
export const SECTION_RULES: Record<string, SectionRule[]> = {
  sft: [
    { title: 'Validation', match: /^val/, layout: 'facet' },
    { title: 'Training loss', match: /(^|\/)([a-z_]*loss)$/, layout: 'overlay' },
    { title: 'Learning rate', match: /(^|\/)(lr|learning_rate)$/, layout: 'overlay' },
    { title: 'Gradient norm', match: /grad_norm/, layout: 'overlay' },
    { title: 'Throughput (tokens/s)', match: /tokens_per_s|tokens\/s|throughput/, layout: 'overlay' },
    { title: 'Tokens per step', match: /tokens/, layout: 'facet' },
  ],
  grpo: [
    { title: 'Validation accuracy mean@n per source', match: /^val-core\/.*\/(acc|score|reward)\/mean@/, layout: 'overlay' },
    { title: 'Validation (other)', match: /^val/, layout: 'facet' },
    { title: 'Groups with zero reward spread (frac_reward_zero_std)', match: /zero_std/, layout: 'overlay' },
    {
      title: 'Reward mean and its components (outcome, TCR, overlong)',
      match: /^(?!.*\/(max|min|std)$).*(^|\/)(score|rewards?|outcome|tcr|overlong)(\/|$)/,
      layout: 'overlay',
    },
    { title: 'Tool use: call, failure and malformed-call rates', match: /tool|malformed/, layout: 'facet' },
    { title: 'Turns per trajectory', match: /num_turns|turns/, layout: 'facet' },
    { title: 'Response length (tokens)', match: /^response_length\//, layout: 'facet' },
    { title: 'Clip fractions', match: /clipfrac|clip_frac/, layout: 'overlay' },
    { title: 'Entropy', match: /entropy/, layout: 'overlay' },
    { title: 'Policy loss and KL', match: /pg_loss|(^|\/)kl|ppo_kl|loss/, layout: 'facet' },
  ],
};

export function readMetrics(path: string): MetricsTable {
  const table = readArrowTable(path);
  const numeric = table.schema.fields.filter((f) => isNumericType(f.type)).map((f) => f.name);
  const stepColumn = STEP_COLUMNS.find((c) => numeric.includes(c)) ?? numeric.find((c) => /(^|\/|_)step$/.test(c));
  let steps: number[];
  if (stepColumn) {
    const raw = numericColumn(table, stepColumn);
    const bad = raw.findIndex((s) => s === null);
    if (bad >= 0) throw new ReportInputError(`${path}: row ${bad} has no value in its step column "${stepColumn}"`);
    steps = raw as number[];
  } else {
    steps = Array.from({ length: table.numRows }, (_, i) => i + 1);
  }
  const series: MetricSeries[] = [];
  for (const name of numeric) {
    if (name === stepColumn) continue;
    const values = numericColumn(table, name);
    const points: MetricSeries['points'] = [];
    values.forEach((value, i) => value !== null && points.push({ step: steps[i], value }));
    if (points.length > 0) series.push({ name, points });
  }
  return { path, stepColumn: stepColumn ?? 'row', rows: table.numRows, series };
}

/** Known sections first (rule order), then one facet section per remaining name prefix, alphabetically. */
export function groupMetrics(stage: string, series: MetricSeries[]): MetricSection[] {
  const rules = SECTION_RULES[stage] ?? [];
  const known = rules.map((r): MetricSection => ({ title: r.title, known: true, layout: r.layout, note: r.note, series: [] }));
  const rest = new Map<string, MetricSeries[]>();
  for (const s of series) {
    const i = rules.findIndex((r) => r.match.test(s.name));
    if (i >= 0) {
      known[i].series.push(s);
      continue;
    }
    const prefix = s.name.includes('/') ? s.name.slice(0, s.name.indexOf('/')) : 'other';
    rest.set(prefix, [...(rest.get(prefix) ?? []), s]);
  }
  const others = [...rest.entries()]
    .sort(([a], [b]) => (a === 'other' ? 1 : b === 'other' ? -1 : a < b ? -1 : a > b ? 1 : 0))
    .map(([prefix, group]): MetricSection => ({ title: prefix === 'other' ? 'Other metrics' : `${prefix}/*`, known: false, layout: 'facet', series: group }));
  return [...known, ...others].filter((s) => s.series.length > 0);
}
