// Stage 3, GRPO-TCR, as a dataflow of durable steps (verl's fit() order):
//   prepare -> [validate before training] -> for each RL step:
//     rollout (one activity per prompt group, fanned out) -> score (+ group advantages)
//     -> old log-probs + update (one PPO epoch in mini-batches) -> checkpoint -> [validate every every_steps]
//     -> metrics
// Steps exchange file references only. Rollout and scoring activities run on the rollout task queue, the learner's
// on the learner queue (both default to this workflow's queue). Before Temporal's history limits the loop
// continues as new, carrying the step count and the checkpoint reference.
import { ApplicationFailure, continueAsNew, proxyActivities, setCurrentDetails, upsertMemo, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { stepOptions, stepTimer } from './steps.ts';
import { latest, newsDue, tellPipeline } from './progress.ts';
import { grpoHeadline } from '../schemas/headline-metrics.ts';
import type { KeptGroups } from '../activities/grpo-dynamic.ts';
import type { FileRef } from '../activities/grpo.ts';
import type { GrpoContext } from '../schemas/grpo.ts';
import type { CheckpointRef, GrpoStageResult, StepTiming } from '../schemas/stage.ts';

export interface GrpoResume {
  ctx: GrpoContext;
  ckpt: CheckpointRef;
  /** RL steps finished. */
  step: number;
  /** Generation batches of the seeded prompt order consumed (= step without dynamic sampling; absent: = step). */
  genBatches?: number;
  validatedBefore: boolean;
  /** Checkpoint 0 of grpo.validation.baseline_model (validated beside the policy before training). */
  baseline?: CheckpointRef;
  /**
   * When the stage started (the first run's workflow clock) and the prepare step's timing, for the audit. Absent
   * in state carried by a run of older code: the chain's start time stands in then.
   */
  startedAt?: string;
  timings?: StepTiming[];
}

type Acts = ReturnType<typeof acts>;
interface Sampled {
  scored: KeptGroups['scored'];
  metrics: Record<string, number>;
  /** Generation batches drawn. */
  drawn: number;
}

/** Rolls out and scores generation batch `genBatch` (draw 0: the step's only batch; >= 1: a dynamic-sampling draw). */
async function rolloutAndScore(rollout: Acts, ctx: GrpoContext, ckpt: CheckpointRef, step: number, genBatch: number, draw: number): Promise<Omit<Sampled, 'drawn'>> {
  const groups = ctx.run.grpo.batch_size;
  const t0 = Date.now();
  const refs = await Promise.all(Array.from({ length: groups }, (_, group) => rollout.grpoRollout({ ctx, step, group, validation: false, ckpt, genBatch, draw })));
  const genS = (Date.now() - t0) / 1000;
  const scored = await rollout.grpoScore({ ctx, step, validation: false, rollouts: refs, draw });
  return { ...scored, metrics: { ...scored.metrics, 'timing_s/gen': genS } };
}

/**
 * DAPO dynamic sampling: draw generation batches (the next ones of the seeded order) until batch_size groups with
 * differing rewards are kept, max_num_gen_batches were drawn, or the prompts run out. Trains on the groups kept
 * (fewer than batch_size when a limit stopped it). A step that kept none at max_num_gen_batches fails, as verl's
 * does; one that kept none because the prompts ran out ends the run (null), as verl's loop ends with its data.
 */
async function dynamicSample(rollout: Acts, ctx: GrpoContext, ckpt: CheckpointRef, step: number, firstGenBatch: number): Promise<Sampled | null> {
  const ds = ctx.run.grpo.dynamic_sampling;
  const draws: KeptGroups['scored'][] = [];
  const timing = { 'timing_s/gen': 0, 'timing_s/reward': 0, 'timing_s/tools': 0 };
  let kept: KeptGroups | null = null;
  while ((kept?.kept ?? 0) < ctx.run.grpo.batch_size && draws.length < ds.max_num_gen_batches && firstGenBatch + draws.length < ctx.totalSteps) {
    const part = await rolloutAndScore(rollout, ctx, ckpt, step, firstGenBatch + draws.length, draws.length + 1);
    draws.push(part.scored);
    for (const k of Object.keys(timing) as (keyof typeof timing)[]) timing[k] += part.metrics[k] ?? 0;
    kept = await rollout.grpoKeepGroups({ ctx, step, draws });
  }
  if (!kept || kept.kept === 0) {
    if (firstGenBatch + draws.length >= ctx.totalSteps) return null;
    throw ApplicationFailure.nonRetryable(`grpo step ${step}: every group of ${draws.length} generation batches had equal rewards (grpo.dynamic_sampling.max_num_gen_batches: ${ds.max_num_gen_batches}); the data may be too hard or too easy for the policy`, 'DynamicSamplingError');
  }
  return { scored: kept.scored, metrics: { ...kept.metrics, ...timing }, drawn: draws.length };
}


function acts(queue: string, heartbeatS: number, attempts: number) {
  return proxyActivities<typeof activities>(stepOptions({ heartbeatTimeoutS: heartbeatS, maxAttempts: attempts, startToClose: '24 hours', taskQueue: queue }));
}

/** Starts the GRPO stage (one JSON object: the recipe with `model` and `grpo`), or resumes after continue-as-new. */
export async function grpoWorkflow(run: Record<string, unknown>, resume?: GrpoResume): Promise<GrpoStageResult> {
  const info = workflowInfo();
  let state: GrpoResume;
  if (resume) state = resume;
  else {
    // Workflow time, as every stage's audit records it: the same on replay, carried across continue-as-new.
    const startedAt = new Date().toISOString();
    const { timings, timed } = stepTimer('grpo');
    const rt = (run.runtime ?? {}) as { heartbeat_timeout_s?: number; max_attempts?: number };
    const prepared = await timed('prepare', () => acts(info.taskQueue, rt.heartbeat_timeout_s ?? 60, rt.max_attempts ?? 5).grpoPrepare({ run, workflowId: info.workflowId }));
    state = { ctx: prepared.ctx, ckpt: prepared.ckpt, baseline: prepared.baseline, step: 0, validatedBefore: false, startedAt, timings };
  }
  const { ctx } = state;
  const g = ctx.run.grpo;
  const rtc = ctx.run.runtime;
  const rollout = acts(g.task_queues.rollout ?? info.taskQueue, rtc.heartbeat_timeout_s, rtc.max_attempts);
  const learner = acts(g.task_queues.learner ?? info.taskQueue, rtc.heartbeat_timeout_s, rtc.max_attempts);
  let last: Record<string, number> | null = null;
  let metricsRef: FileRef | null = null;

  // The policy's validation, or (before training) the baseline model's on the same prompts, under val-baseline/.
  const validate = async (step: number, baseline?: CheckpointRef): Promise<Record<string, number>> => {
    if (ctx.valCount === 0) return {};
    setCurrentDetails(baseline ? '**grpo**: validating the baseline model before training' : `**grpo**: validation at step ${step}`);
    const ckpt = baseline ?? state.ckpt;
    const refs = await Promise.all(Array.from({ length: ctx.valCount }, (_, group) => rollout.grpoRollout({ ctx, step, group, validation: true, ckpt, baseline: Boolean(baseline) })));
    return (await rollout.grpoScore({ ctx, step, validation: true, rollouts: refs, baseline: Boolean(baseline) })).metrics;
  };

  if (!resume) await tellPipeline({ stage: 'grpo', state: `prepared: ${ctx.totalSteps} RL steps`, step: 0, totalSteps: ctx.totalSteps });
  if (g.validation.before_training && state.step === 0 && !state.validatedBefore) {
    const val = { ...(state.baseline ? await validate(0, state.baseline) : {}), ...(await validate(0)) };
    metricsRef = await learner.grpoRecordMetrics({ ctx, step: 0, row: val });
    state = { ...state, validatedBefore: true };
  }

  const consumed = (st: GrpoResume) => st.genBatches ?? st.step;
  while (state.step < ctx.totalSteps && consumed(state) < ctx.totalSteps) {
    const step = state.step + 1;
    const firstGenBatch = consumed(state);
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps}: rollout and score`);
    let sampled: Sampled;
    if (g.dynamic_sampling.enabled) {
      const ds = await dynamicSample(rollout, ctx, state.ckpt, step, firstGenBatch);
      if (!ds) {
        // The prompts ran out before any group of this step was kept: the previous step was the last.
        if (state.step > 0) await learner.grpoExportFinal({ ctx, step: state.step, ckpt: state.ckpt });
        state = { ...state, genBatches: ctx.totalSteps };
        break;
      }
      sampled = ds;
    } else {
      const part = await rolloutAndScore(rollout, ctx, state.ckpt, step, firstGenBatch, 0);
      sampled = { ...part, drawn: 1 };
    }
    const final = step === ctx.totalSteps || firstGenBatch + sampled.drawn >= ctx.totalSteps;
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps}: update`);
    const upd = await learner.grpoUpdateStep({ ctx, step, scored: sampled.scored, ckpt: state.ckpt, final });
    state = { ...state, step, genBatches: firstGenBatch + sampled.drawn, ckpt: upd.ckpt };
    const val = g.validation.every_steps > 0 && (step % g.validation.every_steps === 0 || final) ? await validate(step) : {};
    last = { ...sampled.metrics, ...upd.metrics, ...val, 'training/epoch': Math.floor(firstGenBatch / ctx.stepsPerEpoch) };
    metricsRef = await learner.grpoRecordMetrics({ ctx, step, row: last });
    upsertMemo({ grpo: { step, totalSteps: ctx.totalSteps, checkpoint: state.ckpt.path, metrics: last } });
    setCurrentDetails(`**grpo**: step ${step}/${ctx.totalSteps} done; score ${last['critic/score/mean']?.toFixed(3)}, pg_loss ${last['actor/pg_loss']?.toFixed(4)}`);
    if (newsDue(step, ctx.totalSteps, 8) || final) {
      await tellPipeline({ stage: 'grpo', state: `step ${step}/${ctx.totalSteps} done`, step, totalSteps: ctx.totalSteps, latest: latest(grpoHeadline(last)) });
    }
    const forced = rtc.continue_as_new_every_steps !== undefined && step % rtc.continue_as_new_every_steps === 0;
    if ((workflowInfo().continueAsNewSuggested || forced) && !final) await continueAsNew<typeof grpoWorkflow>(run, state);
  }
  const startedAt = state.startedAt ?? info.startTime.toISOString();
  const before = state.timings ?? [];
  const audit = await learner.grpoWriteAudit({
    ctx, workflowId: info.workflowId, steps: state.step, checkpoint: state.ckpt, metrics: metricsRef, startedAt, finishedAt: new Date().toISOString(),
    timings: [...before, trainingTiming(startedAt, before)],
  });
  upsertMemo({ grpo: { step: state.step, totalSteps: ctx.totalSteps, checkpoint: state.ckpt.path, metrics: last, audit: audit.path } });
  return { runId: ctx.runId, steps: state.step, checkpoint: state.ckpt, metrics: metricsRef, last };
}

/** The RL steps (validation included) as one timing: from the end of prepare until now, across continue-as-new. */
function trainingTiming(startedAt: string, before: StepTiming[]): StepTiming {
  const prepared = before.at(-1);
  const from = prepared ? Date.parse(prepared.startedAt) + prepared.ms : Date.parse(startedAt);
  return { step: 'rl steps', startedAt: new Date(from).toISOString(), ms: Date.now() - from };
}
