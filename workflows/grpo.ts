// Stage 3, GRPO-TCR, as a dataflow of durable steps (verl's fit() order):
//   prepare -> [validate before training] -> for each RL step:
//     rollout (one activity per prompt group, fanned out) -> score (+ group advantages)
//     -> old log-probs + update (one PPO epoch in mini-batches) -> checkpoint -> [validate every every_steps]
//     -> metrics
// Steps exchange file references only. Rollout and scoring activities run on the rollout task queue, the learner's
// on the learner queue (both default to this workflow's queue). Before Temporal's history limits the loop
// continues as new, carrying the step count and the checkpoint reference.
import { continueAsNew, proxyActivities, setCurrentDetails, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import type { FileRef } from '../activities/grpo.ts';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';
import type { GrpoContext } from '../schemas/grpo.ts';
import type { CheckpointRef, GrpoStageResult } from '../schemas/stage.ts';

export interface GrpoResume {
  ctx: GrpoContext;
  ckpt: CheckpointRef;
  /** RL steps finished. */
  step: number;
  validatedBefore: boolean;
}


function acts(queue: string, heartbeatS: number, attempts: number) {
  return proxyActivities<typeof activities>({
    taskQueue: queue,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${heartbeatS} seconds`,
    retry: { maximumAttempts: attempts, initialInterval: '1 second', backoffCoefficient: 2, nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS] },
  });
}

/** Starts the GRPO stage (one JSON object: the recipe with `model` and `grpo`), or resumes after continue-as-new. */
export async function grpoWorkflow(run: Record<string, unknown>, resume?: GrpoResume): Promise<GrpoStageResult> {
  const info = workflowInfo();
  let state: GrpoResume;
  if (resume) state = resume;
  else {
    setCurrentDetails('**grpo**: prepare');
    const rt = (run.runtime ?? {}) as { heartbeat_timeout_s?: number; max_attempts?: number };
    const prepared = await acts(info.taskQueue, rt.heartbeat_timeout_s ?? 60, rt.max_attempts ?? 5).grpoPrepare({ run, workflowId: info.workflowId });
    state = { ctx: prepared.ctx, ckpt: prepared.ckpt, step: 0, validatedBefore: false };
  }
  const { ctx } = state;
  const g = ctx.run.grpo;
  const rtc = ctx.run.runtime;
  const rollout = acts(g.task_queues.rollout ?? info.taskQueue, rtc.heartbeat_timeout_s, rtc.max_attempts);
  const learner = acts(g.task_queues.learner ?? info.taskQueue, rtc.heartbeat_timeout_s, rtc.max_attempts);
  let last: Record<string, number> | null = null;
  let metricsRef: FileRef | null = null;

  const validate = async (step: number): Promise<Record<string, number>> => {
    if (ctx.valCount === 0) return {};
    setCurrentDetails(`**grpo**: validation at step ${step}`);
    const refs = await Promise.all(Array.from({ length: ctx.valCount }, (_, group) => rollout.grpoRollout({ ctx, step, group, validation: true, ckpt: state.ckpt })));
    return (await rollout.grpoScore({ ctx, step, validation: true, rollouts: refs })).metrics;
  };

  if (g.validation.before_training && state.step === 0 && !state.validatedBefore) {
    const val = await validate(0);
    metricsRef = await learner.grpoRecordMetrics({ ctx, step: 0, row: val });
    state = { ...state, validatedBefore: true };
  }

  while (state.step < ctx.totalSteps) {
    const step = state.step + 1;
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps}: rollout`);
    const t0 = Date.now();
    const refs = await Promise.all(Array.from({ length: g.batch_size }, (_, group) => rollout.grpoRollout({ ctx, step, group, validation: false, ckpt: state.ckpt })));
    const t1 = Date.now();
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps}: score`);
    const scored = await rollout.grpoScore({ ctx, step, validation: false, rollouts: refs });
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps}: update`);
    const upd = await learner.grpoUpdateStep({ ctx, step, scored: scored.scored, ckpt: state.ckpt });
    state = { ...state, step, ckpt: upd.ckpt };
    const val = g.validation.every_steps > 0 && (step % g.validation.every_steps === 0 || step === ctx.totalSteps) ? await validate(step) : {};
    last = { ...scored.metrics, ...upd.metrics, ...val, 'timing_s/gen': (t1 - t0) / 1000, 'training/epoch': Math.floor((step - 1) / ctx.stepsPerEpoch) };
    metricsRef = await learner.grpoRecordMetrics({ ctx, step, row: last });
    upsertMemo({ grpo: { step, totalSteps: ctx.totalSteps, checkpoint: state.ckpt.path, metrics: last } });
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps} done; score ${last['critic/score/mean']?.toFixed(3)}, pg_loss ${last['actor/pg_loss']?.toFixed(4)}`);
    const forced = rtc.continue_as_new_every_steps !== undefined && step % rtc.continue_as_new_every_steps === 0;
    if ((workflowInfo().continueAsNewSuggested || forced) && state.step < ctx.totalSteps) await continueAsNew<typeof grpoWorkflow>(run, state);
  }
  const audit = await learner.grpoWriteAudit({ ctx, workflowId: info.workflowId, steps: state.step, checkpoint: state.ckpt, metrics: metricsRef });
  upsertMemo({ grpo: { step: state.step, totalSteps: ctx.totalSteps, checkpoint: state.ckpt.path, metrics: last, audit: audit.path } });
  return { runId: ctx.runId, steps: state.step, checkpoint: state.ckpt, metrics: metricsRef, last };
}
