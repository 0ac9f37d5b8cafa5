// Scoring a step's trajectory records: each record's reward components from its RL row (rewards/score.ts), then
// the group advantages of the training records (rewards/advantage.ts). Records come back as new objects; the
// unscored file stays as it was written.
import type { ChatTokenizer } from '../chat/index.ts';
import { groupAdvantages } from '../rewards/advantage.ts';
import { scoreTrajectory } from '../rewards/score.ts';
import type { ScoreOptions, ScoreRow } from '../rewards/score.ts';
import type { TrajectoryRecord } from '../schemas/trajectory.ts';
import { responseTextForReward } from './responseText.ts';

/** Scores every record (at most `concurrency` at once; code rows wait on the sandbox). Order is kept. */
export async function scoreRecords(
  records: readonly TrajectoryRecord[],
  rows: ReadonlyMap<string, ScoreRow>,
  tok: ChatTokenizer,
  opts: ScoreOptions,
  concurrency = 4,
): Promise<TrajectoryRecord[]> {
  const out = new Array<TrajectoryRecord>(records.length);
  let next = 0;
  const worker = async () => {
    while (next < records.length) {
      const i = next++;
      const r = records[i];
      const row = rows.get(r.promptUid);
      if (!row) throw new Error(`scoreRecords: no RL row for prompt uid ${r.promptUid}`);
      const s = await scoreTrajectory(
        { ...row, responseText: responseTextForReward(tok, r.responseIds), toolRounds: r.toolRounds, responseLength: r.responseLength },
        opts,
      );
      out[i] = { ...r, outcome: s.outcome, outcomeCorrect: s.correct, outcomeDetail: s.detail, tcr: s.tcr, overlong: s.overlong, reward: s.total };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, records.length)) }, worker));
  return out;
}

/** Group advantages over the training records (grouped by prompt uid); validation records keep null. */
export function withAdvantages(records: readonly TrajectoryRecord[]): { records: TrajectoryRecord[]; fracRewardZeroStd: number } {
  const train = records.filter((r) => !r.validation);
  for (const r of train) if (r.reward === null) throw new Error(`withAdvantages: ${r.promptUid} #${r.sampleIndex} is not scored`);
  const { advantages, fracRewardZeroStd } = groupAdvantages(train.map((r) => r.reward!), train.map((r) => r.promptUid));
  let k = 0;
  return { records: records.map((r) => (r.validation ? { ...r, advantage: null } : { ...r, advantage: advantages[k++] })), fracRewardZeroStd };
}
