// The balance stage: where every row read from each source went (sampled, eligible but not sampled, duplicate,
// rejected and why), as the audit's per-source counts say.
import type { SourceCounts } from '../schemas/stage.ts';
import { balanceSpec, renderSvg } from './charts.ts';
import { figure, table, type Cell } from './html.ts';
import type { StageData } from './run.ts';

const n = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);

/** One bar segment per outcome; the segments of a source add up to the rows read from it. */
export function balanceOutcomes(counts: Record<string, Partial<SourceCounts>>): { source: string; outcome: string; rows: number; rank: number }[] {
  const reasons = allReasons(counts);
  const out: { source: string; outcome: string; rows: number; rank: number }[] = [];
  for (const [source, c] of Object.entries(counts)) {
    const parts: [string, number][] = [
      ['sampled', n(c.sampled)],
      ['eligible, not sampled', n(c.eligible) - n(c.sampled)],
      ['duplicate within source', n(c.duplicateWithin)],
      ['duplicate across sources', n(c.duplicateAcross)],
      ...reasons.map((r): [string, number] => [`rejected: ${r}`, n(c.rejected?.[r])]),
    ];
    parts.forEach(([outcome, rows], rank) => rows > 0 && out.push({ source, outcome, rows, rank }));
  }
  return out;
}

function allReasons(counts: Record<string, Partial<SourceCounts>>): string[] {
  return [...new Set(Object.values(counts).flatMap((c) => Object.keys(c.rejected ?? {})))].sort();
}

export async function balanceSection(s: StageData): Promise<string> {
  const counts = (s.audit?.counts ?? {}) as Record<string, Partial<SourceCounts>>;
  const sources = Object.keys(counts);
  if (sources.length === 0) return `<h2 id="balance">Balance</h2><p class="absent">The balance audit has no per-source counts.</p>`;
  const perSource: Cell[][] = sources.map((name) => {
    const c = counts[name];
    const rejected = Object.values(c.rejected ?? {}).reduce((a, b) => a + n(b), 0);
    return [name, n(c.read), rejected, n(c.duplicateWithin), n(c.duplicateAcross), n(c.eligible), n(c.requested), n(c.sampled), n(c.shortfall)];
  });
  const total = (i: number) => perSource.reduce((a, r) => a + (r[i] as number), 0);
  perSource.push(['total', ...[1, 2, 3, 4, 5, 6, 7, 8].map(total)]);
  const reasons = allReasons(counts);
  const byReason = reasons.map((r): Cell[] => [r, ...sources.map((src) => n(counts[src].rejected?.[r])), sources.reduce((a, src) => a + n(counts[src].rejected?.[r]), 0)]);
  const chart = await renderSvg(balanceSpec(balanceOutcomes(counts)), 'balance-outcomes');
  return `<h2 id="balance">Balance</h2>
${table(['source', 'read', 'rejected', 'duplicates within', 'duplicates across', 'eligible', 'requested', 'sampled', 'shortfall'], perSource)}
<h3>Rejects by reason</h3>
${reasons.length > 0 ? table(['reason', ...sources, 'total'], byReason) : '<p class="absent">No row was rejected.</p>'}
<div class="plots">${figure('Where the rows read from each source went', chart)}</div>`;
}
