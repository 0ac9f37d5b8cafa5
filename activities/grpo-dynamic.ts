// DAPO dynamic sampling, the activity side: from a step's scored generation batches (in draw order), keep the groups
// whose rewards are not all equal, up to batch_size of them, and write them as the step's scored record (what the
// update trains on). Re-run on every draw, so the workflow learns how many groups it holds; the same inputs always
// give the same bytes, so a retry or a replay rewrites an identical file.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rolloutMetrics } from '../agent/index.ts';
import type { MetricRow } from '../agent/index.ts';
import { sha256Bytes } from '../core/digest.ts';
import { dynamicSamplingKeep } from '../rewards/advantage.ts';
import type { GrpoContext } from '../schemas/grpo.ts';
import { readTrajectoryFile, scoredRecordName, writeTrajectoryFile } from '../schemas/trajectory.ts';
import type { TrajectoryRecord } from '../schemas/trajectory.ts';
import type { CheckpointRef } from '../schemas/stage.ts';
import { exportHfModel, loadTrainCheckpoint } from '../training/index.ts';
import type { FileRef } from './grpo.ts';

/**
 * Scored path of draw `draw` (1-based) of a step under dynamic sampling; draw 0 is the step's own scored file.
 * `baseline`: the baseline model's validation before training.
 */
export function scoredPath(ctx: GrpoContext, step: number, validation: boolean, draw = 0, baseline = false): string {
  return join(ctx.workDir, 'scored', scoredRecordName(step, validation, draw, baseline));
}

export interface KeptGroups {
  scored: FileRef;
  /** Groups kept (at most batch_size). */
  kept: number;
  metrics: MetricRow;
}

/** Keeps the groups with differing rewards (first batch_size, a prompt once per step) from the step's draws. */
export async function grpoKeepGroups(args: { ctx: GrpoContext; step: number; draws: FileRef[] }): Promise<KeptGroups> {
  const { ctx, step } = args;
  const batchSize = ctx.run.grpo.batch_size;
  const kept: TrajectoryRecord[] = [];
  const keptUids = new Set<string>();
  let groups = 0;
  let zeroStd = 0;
  for (const ref of args.draws) {
    const bytes = await readFile(ref.path);
    if (sha256Bytes(bytes) !== ref.sha256) throw new Error(`${ref.path} changed since it was written`);
    const records = await readTrajectoryFile(ref.path);
    const uids = [...new Set(records.map((r) => r.promptUid))];
    const keep = new Set(dynamicSamplingKeep(records.map((r) => r.reward!), records.map((r) => r.promptUid)));
    groups += uids.length;
    zeroStd += uids.filter((u) => !keep.has(u)).length;
    for (const uid of uids) {
      // A prompt drawn twice in one step (a training set smaller than a few batches) would merge two groups.
      if (!keep.has(uid) || keptUids.has(uid) || keptUids.size >= batchSize) continue;
      keptUids.add(uid);
      kept.push(...records.filter((r) => r.promptUid === uid));
    }
  }
  const path = scoredPath(ctx, step, false);
  await mkdir(join(path, '..'), { recursive: true });
  const written = await writeTrajectoryFile(path, kept);
  const metrics: MetricRow = {
    ...rolloutMetrics(kept, ctx.run.grpo.max_response_length),
    // Over every group drawn this step (the kept batch has none by construction).
    frac_reward_zero_std: groups === 0 ? 0 : zeroStd / groups,
    'dynamic_sampling/num_gen_batches': args.draws.length,
    'dynamic_sampling/kept_groups': keptUids.size,
  };
  return { scored: { path, sha256: written.sha256, rows: kept.length }, kept: keptUids.size, metrics };
}

/**
 * Exports checkpoint `ckpt` (RL step `step`) as the run's last Hugging Face directory: with dynamic sampling the
 * prompts can run out in a step that kept no group, after the last trained step was already written without it.
 */
export async function grpoExportFinal(args: { ctx: GrpoContext; step: number; ckpt: CheckpointRef }): Promise<void> {
  const { ctx, step } = args;
  const ck = await loadTrainCheckpoint(args.ckpt);
  await exportHfModel({ outDir: join(ctx.outDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`), config: ck.config, rawConfig: ck.rawConfig, weights: ck.weights, dtype: 'f32', tokenizerDir: ctx.modelDir });
}
