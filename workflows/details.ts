// Text for the Web UI's "current details" panel. The dev server's UI renders markdown tables with no space between
// cells ("numina_math 1020371" reads as one number), so tables go in a fenced code block with columns padded to
// a fixed width: monospace keeps them aligned in the UI, and the same text reads well in a terminal. Pure and
// deterministic (workflow code): the same input gives the same text on every replay.

export type DetailsCell = string | number | boolean | null | undefined;

export interface DetailsInput {
  /** First line, markdown allowed (e.g. "**balance** done for run `x`"). */
  heading: string;
  /** Label/value pairs shown aligned, e.g. stage, step, latest metrics. */
  values?: [string, DetailsCell][];
  /** A table: numbers right-aligned, text left-aligned. */
  table?: { head: string[]; rows: DetailsCell[][] };
  /** Label/path pairs shown as a list with the path in code (report, outputs, audit). */
  paths?: [string, string][];
}

/** Numbers as people read them: integers whole, others to 4 significant digits. */
export function formatDetailsNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a < 1e-3 || a >= 1e6 ? x.toExponential(3) : String(Number(x.toPrecision(4)));
}

function text(c: DetailsCell): string {
  if (c === null || c === undefined) return '-';
  const s = typeof c === 'number' ? formatDetailsNumber(c) : String(c);
  return s.replace(/\s*\n\s*/g, ' ');
}

/** A fence longer than any backtick run in the content, so a cell can never close the block early. */
function fence(lines: string[]): string {
  const longest = Math.max(2, ...lines.flatMap((l) => (l.match(/`+/g) ?? []).map((m) => m.length)));
  return '`'.repeat(longest + 1);
}

function codeBlock(lines: string[]): string {
  const f = fence(lines);
  return [f, ...lines, f].join('\n');
}

/** The rows of a table as fixed-width lines: two spaces between columns, numbers right-aligned. */
export function fixedWidthTable(head: string[], rows: DetailsCell[][]): string[] {
  const cells = rows.map((r) => head.map((_, i) => text(r[i])));
  const numeric = head.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === 'number' || r[i] === null || r[i] === undefined));
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(width[i]) : c.padEnd(width[i]))).join('  ').trimEnd();
  return [line(head), ...cells.map(line)];
}

export function formatDetails(d: DetailsInput): string {
  const parts = [d.heading];
  if (d.values && d.values.length > 0) {
    const w = Math.max(...d.values.map(([k]) => k.length));
    parts.push(codeBlock(d.values.map(([k, v]) => `${k.padEnd(w)}  ${text(v)}`.trimEnd())));
  }
  if (d.table) parts.push(codeBlock(fixedWidthTable(d.table.head, d.table.rows)));
  if (d.paths && d.paths.length > 0) parts.push(d.paths.map(([k, p]) => `- ${k}: \`${p.replace(/`/g, "'")}\``).join('\n'));
  return parts.join('\n\n');
}

/**
 * One line saying what a run is, its recipe and stages: the CLI starts a run with it as the run's summary, and the
 * pipeline shows it as the first line of its current details, because a run started from the Web UI's form has
 * no summary unless the user types one (the workflow cannot set its own summary once started).
 */
export function runSummary(recipeName: string, stages: readonly string[]): string {
  return `agentrl ${recipeName}: ${stages.join(' -> ')}`;
}

/** The summary a stage's child workflow is started with: the Web UI shows it on the pipeline's timeline too. */
export function stageSummary(recipeName: string, stages: readonly string[], stage: string, runId: string): string {
  return `agentrl ${recipeName} stage ${stages.indexOf(stage) + 1} of ${stages.length}: ${stage} (run ${runId})`;
}
