// What every stage's workflow sets on its steps, in one place: a heartbeat timeout (a dead worker is noticed and
// the step retried elsewhere, resuming from its last heartbeat), bounded retries with back-off, and bad input
// never retried. And the per-step timings every audit record carries.
import { setCurrentDetails, type ActivityOptions } from '@temporalio/workflow';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';
import type { StepTiming } from '../schemas/stage.ts';

export function stepOptions(o: { heartbeatTimeoutS: number; maxAttempts: number; startToClose: string; summary?: string; taskQueue?: string }): ActivityOptions {
  return {
    summary: o.summary,
    taskQueue: o.taskQueue,
    startToCloseTimeout: o.startToClose,
    heartbeatTimeout: `${o.heartbeatTimeoutS} seconds`,
    retry: { maximumAttempts: o.maxAttempts, initialInterval: '1 second', backoffCoefficient: 2, nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS] },
  };
}

/** Runs a stage's steps under names: each is shown as the stage's current details and timed for the audit. */
export function stepTimer(stage: string): { timings: StepTiming[]; timed: <T>(step: string, work: () => Promise<T>) => Promise<T> } {
  const timings: StepTiming[] = [];
  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    setCurrentDetails(`**${stage}**: ${step}`);
    const out = await work();
    timings.push({ step, startedAt: new Date(t0).toISOString(), ms: Date.now() - t0 });
    return out;
  };
  return { timings, timed };
}
