// The GRPO policy update of one RL step (recipe.md section 3): old log-probs recomputed by the learner before any
// update, then one PPO epoch over the step's groups in mini-batches of `miniBatchGroups` prompts, each one
// optimizer step with the clipped loss (clip-higher, dual clip, token-mean over mask-1 tokens, no KL). The
// advantage of a trajectory applies to each of its generated tokens; tool tokens carry no loss.
import type { TrainMicroBatch } from '../engine/batch.ts';
import type { Learner } from '../engine/learner.ts';
import type { TrajectoryRecord } from '../schemas/trajectory.ts';

export interface GrpoUpdateSettings {
  /** Prompts (groups) per optimizer step. */
  miniBatchGroups: number;
  epsLow: number;
  epsHigh: number;
  dualClipC: number;
  lr: number;
  /** Padded tokens per micro-batch (gradient accumulation is exact, so this sets speed and memory only). */
  microTokens: number;
}

export interface UpdateMetrics {
  'actor/pg_loss': number;
  'actor/pg_clipfrac': number;
  'actor/pg_clipfrac_lower': number;
  'actor/ppo_kl': number;
  'actor/grad_norm': number;
  'actor/entropy': number;
  /** Optimizer steps taken (a step whose gradient norm is not finite is skipped). */
  'actor/optimizer_steps': number;
  'actor/skipped_steps': number;
}

/** Position t predicts token t + 1: trained where that token was generated. */
function targetMask(r: TrajectoryRecord): number[] {
  const n = r.promptIds.length + r.responseIds.length;
  const mask = new Array<number>(n).fill(0);
  for (let j = 0; j < r.responseMask.length; j++) mask[r.promptIds.length + j - 1] = r.responseMask[j];
  return mask;
}

const fullIds = (r: TrajectoryRecord) => [...r.promptIds, ...r.responseIds];

/** The current policy's log-probs of every generated token (per position, 0 elsewhere) and their mean entropy. */
export async function oldLogProbs(learner: Learner, records: readonly TrajectoryRecord[]): Promise<{ logp: number[][]; entropy: number }> {
  const masks = records.map(targetMask);
  const logp: number[][] = [];
  let entSum = 0;
  let entCount = 0;
  for (let i = 0; i < records.length; i++) {
    // One row at a time: trajectories differ widely in length, and padding them together wastes the head's work.
    const out = await learner.logProbs({ inputIds: [fullIds(records[i])] }, { mask: [masks[i]] });
    logp.push(out.logp[0].map((v, t) => (masks[i][t] ? v : 0)));
    out.entropy[0].forEach((e, t) => {
      if (masks[i][t]) {
        entSum += e;
        entCount++;
      }
    });
  }
  return { logp, entropy: entCount ? entSum / entCount : 0 };
}

/** Micro-batches of rows, packed while rows x longest stays within microTokens (a longer row runs alone). */
function microBatches(rows: { ids: number[]; mask: number[]; old: number[]; adv: number }[], microTokens: number): TrainMicroBatch[] {
  const sorted = [...rows].sort((a, b) => b.ids.length - a.ids.length);
  const out: TrainMicroBatch[] = [];
  let cur: typeof rows = [];
  const flush = () => {
    if (cur.length === 0) return;
    out.push({
      inputIds: cur.map((r) => r.ids),
      lossMask: cur.map((r) => r.mask),
      oldLogp: cur.map((r) => r.old),
      advantages: cur.map((r) => r.mask.map((m) => (m ? r.adv : 0))),
    });
    cur = [];
  };
  for (const r of sorted) {
    if (cur.length > 0 && (cur.length + 1) * cur[0].ids.length > microTokens) flush();
    cur.push(r);
  }
  flush();
  return out;
}

/** One PPO epoch over the step's training records (validation records are refused). */
export async function grpoUpdate(learner: Learner, records: readonly TrajectoryRecord[], s: GrpoUpdateSettings): Promise<UpdateMetrics> {
  for (const r of records) {
    if (r.validation) throw new Error(`grpoUpdate: validation trajectory ${r.promptUid} #${r.sampleIndex} cannot be trained on`);
    if (r.advantage === null) throw new Error(`grpoUpdate: ${r.promptUid} #${r.sampleIndex} has no advantage`);
  }
  const old = await oldLogProbs(learner, records);
  const groups: number[][] = [];
  const index = new Map<string, number>();
  records.forEach((r, i) => {
    if (!index.has(r.promptUid)) {
      index.set(r.promptUid, groups.length);
      groups.push([]);
    }
    groups[index.get(r.promptUid)!].push(i);
  });
  const sums = { loss: 0, clip: 0, lower: 0, kl: 0, norm: 0, normCount: 0 };
  let steps = 0;
  let skipped = 0;
  let tokens = 0;
  for (let g = 0; g < groups.length; g += s.miniBatchGroups) {
    const idx = groups.slice(g, g + s.miniBatchGroups).flat();
    const rows = idx.map((i) => ({ ids: fullIds(records[i]), mask: targetMask(records[i]), old: old.logp[i], adv: records[i].advantage! }));
    const res = await learner.trainStep(microBatches(rows, s.microTokens), { kind: 'grpo', epsLow: s.epsLow, epsHigh: s.epsHigh, dualClipC: s.dualClipC, logRatioClamp: 20 }, s.lr);
    if (res.skipped) skipped++;
    else steps++;
    // Token-weighted over the step, as verl aggregates its mini-batch metrics.
    const w = res.lossTokens;
    tokens += w;
    sums.loss += res.loss * w;
    sums.clip += (res.metrics.pg_clipfrac ?? 0) * w;
    sums.lower += (res.metrics.pg_clipfrac_lower ?? 0) * w;
    sums.kl += (res.metrics.ppo_kl ?? 0) * w;
    if (Number.isFinite(res.gradNorm)) {
      sums.norm += res.gradNorm;
      sums.normCount++;
    }
  }
  const mean = (x: number) => (tokens ? x / tokens : 0);
  return {
    'actor/pg_loss': mean(sums.loss),
    'actor/pg_clipfrac': mean(sums.clip),
    'actor/pg_clipfrac_lower': mean(sums.lower),
    'actor/ppo_kl': mean(sums.kl),
    'actor/grad_norm': sums.normCount ? sums.norm / sums.normCount : 0, // mean over the optimizer steps, as verl
    'actor/entropy': old.entropy,
    'actor/optimizer_steps': steps,
    'actor/skipped_steps': skipped,
  };
}
