// The SFT training loop of one epoch on a learner that holds the model: batches in the epoch's seeded order,
// the schedule's learning rate per optimizer step, a metrics row per step, and a checkpoint every
// `saveEverySteps` steps and at the epoch's end. It starts at a data position (a checkpoint's), so an epoch
// interrupted anywhere continues at the batch after the last checkpoint, and a checkpoint taken at the end of
// an epoch (position: next epoch, batch 0) continues with the next epoch, never the same one again.
import type { Learner } from '../engine/learner.ts';
import type { DataPosition, StepMetrics } from '../schemas/stage.ts';
import { batchRows, epochOrder, packMicroBatches, stepsPerEpoch } from './batches.ts';
import type { TokenRow } from './batches.ts';
import { lrAt } from './schedule.ts';
import type { Schedule } from './schedule.ts';

export interface SftHyper {
  epochs: number;
  batchSize: number;
  lr: number;
  schedule: Schedule;
  saveEverySteps: number;
  microBatchTokens: number;
  seed: number;
}

export interface EpochRun {
  learner: Learner;
  rows: readonly TokenRow[];
  /** rowDigest of each row (the order's keys). */
  digests: readonly string[];
  hyper: SftHyper;
  epoch: number;
  /** Where to start: a position inside `epoch`, or past it (then nothing runs). */
  from: DataPosition;
  onStep: (m: StepMetrics) => Promise<void>;
  /** Saves a checkpoint of the learner at `position` after `step` optimizer steps. */
  checkpoint: (position: DataPosition, step: number) => Promise<void>;
  signal?: AbortSignal;
}

export function globalStep(pos: DataPosition, perEpoch: number): number {
  return pos.epoch * perEpoch + pos.batch;
}

export async function trainEpoch(run: EpochRun): Promise<DataPosition> {
  const { hyper, epoch } = run;
  const perEpoch = stepsPerEpoch(run.rows.length, hyper.batchSize);
  const total = perEpoch * hyper.epochs;
  if (run.from.epoch > epoch) return run.from;
  if (run.from.epoch < epoch) throw new Error(`trainEpoch: asked for epoch ${epoch} from a checkpoint in epoch ${run.from.epoch}, batch ${run.from.batch}`);
  const order = epochOrder(hyper.seed, epoch, run.digests);
  let position = run.from;
  for (let b = run.from.batch; b < perEpoch; b++) {
    run.signal?.throwIfAborted();
    const rows = batchRows(order, hyper.batchSize, b).map((i) => run.rows[i]);
    const micro = packMicroBatches(rows, hyper.microBatchTokens);
    const step = globalStep({ epoch, batch: b }, perEpoch);
    const lr = lrAt(step, total, hyper.lr, hyper.schedule);
    const t0 = performance.now();
    const r = await run.learner.trainStep(micro, { kind: 'sft' }, lr);
    const seconds = (performance.now() - t0) / 1000;
    const tokens = rows.reduce((n, row) => n + row.ids.length, 0);
    await run.onStep({
      step: step + 1,
      epoch,
      loss: r.loss,
      grad_norm: r.gradNorm,
      lr,
      tokens,
      trained_tokens: r.lossTokens,
      seconds,
      tokens_per_s: seconds > 0 ? tokens / seconds : 0,
    });
    position = b + 1 === perEpoch ? { epoch: epoch + 1, batch: 0 } : { epoch, batch: b + 1 };
    if ((step + 1) % hyper.saveEverySteps === 0 || b + 1 === perEpoch) await run.checkpoint(position, step + 1);
  }
  return position;
}
