// The per-step metrics of the GRPO stage from its scored trajectory records, with verl's names where verl has
// one (critic/score/*, critic/advantages/*, response_length/*, num_turns/*, tool_call_counts/mean, ...), and the
// validation summary: accuracy mean@n and best@n per data_source (a sample is correct when its outcome is fully
// correct), the reward mean and the tool-call rate.
import type { TrajectoryRecord } from '../schemas/trajectory.ts';

export type MetricRow = Record<string, number>;

function stats(prefix: string, xs: number[], out: MetricRow): void {
  out[`${prefix}/mean`] = xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  out[`${prefix}/max`] = xs.length ? Math.max(...xs) : 0;
  out[`${prefix}/min`] = xs.length ? Math.min(...xs) : 0;
}

/** Rollout and reward metrics of a step's training records (scored, with advantages). */
export function rolloutMetrics(records: readonly TrajectoryRecord[], maxResponseLength: number): MetricRow {
  const out: MetricRow = {};
  stats('critic/score', records.map((r) => r.reward ?? 0), out);
  stats('critic/rewards', records.map((r) => r.reward ?? 0), out);
  stats('critic/advantages', records.map((r) => r.advantage ?? 0), out);
  const lengths = records.map((r) => r.responseLength);
  stats('response_length', lengths, out);
  out['response_length/clip_ratio'] = records.length ? lengths.filter((l) => l >= maxResponseLength).length / records.length : 0;
  stats('num_turns', records.map((r) => r.numTurns), out);
  const calls = records.map((r) => r.toolRounds);
  out['tool_call_counts/mean'] = calls.length ? calls.reduce((a, b) => a + b, 0) / calls.length : 0;
  const turns = records.flatMap((r) => r.turns);
  const ran = turns.filter((t) => t.toolStatus === 'finished' || t.toolStatus === 'error' || t.toolStatus === 'timeout');
  out['tool/failure_rate'] = ran.length ? ran.filter((t) => t.toolStatus !== 'finished').length / ran.length : 0;
  out['tool/timeout_rate'] = ran.length ? ran.filter((t) => t.toolStatus === 'timeout').length / ran.length : 0;
  const spans = turns.reduce((n, t) => n + t.callSpans, 0);
  out['tool/malformed_call_rate'] = spans ? records.reduce((n, r) => n + r.malformedCalls, 0) / spans : 0;
  out['tool/retried_calls'] = turns.filter((t) => t.toolAttempts > 1).length;
  return out;
}

/** val-core/<source>/acc/mean@n, best@n, reward/mean@n and tool_call_rate per data_source (validation records). */
export function validationMetrics(records: readonly TrajectoryRecord[]): MetricRow {
  const out: MetricRow = {};
  const bySource = new Map<string, Map<string, TrajectoryRecord[]>>();
  for (const r of records) {
    if (!bySource.has(r.dataSource)) bySource.set(r.dataSource, new Map());
    const groups = bySource.get(r.dataSource)!;
    if (!groups.has(r.promptUid)) groups.set(r.promptUid, []);
    groups.get(r.promptUid)!.push(r);
  }
  for (const [source, groups] of [...bySource].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const gs = [...groups.values()];
    const n = Math.max(...gs.map((g) => g.length));
    const acc = gs.map((g) => g.filter((r) => r.outcomeCorrect).length / g.length);
    const best = gs.map((g) => (g.some((r) => r.outcomeCorrect) ? 1 : 0));
    const all = gs.flat();
    out[`val-core/${source}/acc/mean@${n}`] = acc.reduce((a, b) => a + b, 0) / gs.length;
    out[`val-core/${source}/acc/best@${n}`] = best.reduce((a: number, b) => a + b, 0) / gs.length;
    out[`val-aux/${source}/reward/mean@${n}`] = all.reduce((a, r) => a + (r.reward ?? 0), 0) / all.length;
    out[`val-aux/${source}/tool_call_rate`] = all.filter((r) => r.toolRounds > 0).length / all.length;
  }
  return out;
}
