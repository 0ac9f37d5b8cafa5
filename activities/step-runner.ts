// What every stage's activity adds around its library call: heartbeats while the work runs (carrying the last
// resumable progress, if the step reports any), the activity's cancellation as an AbortSignal, and bad input
// mapped to a non-retryable failure (retrying a corrupt file only wastes the retry budget).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';

/** How often a step heartbeats while it computes (well under any sensible heartbeat timeout). */
const HEARTBEAT_MS = 1_000;

/**
 * Runs `work` as the current activity's body. `report(progress)` heartbeats at once and becomes the details the
 * next attempt finds in `heartbeatDetails`; between reports (a worker thread booting on a busy machine, a long
 * row group) the last one is repeated every second, so a live step is never taken for a dead one and a dead
 * worker is noticed within the heartbeat timeout rather than the step's whole time limit. Cancellation reaches an
 * activity through its heartbeats; the signal then stops the step's worker thread.
 */
export async function runStep<T>(work: (signal: AbortSignal, report: (progress: unknown) => void) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let last: unknown = ctx.info.heartbeatDetails;
  const beat = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
  const report = (progress: unknown): void => {
    last = progress;
    ctx.heartbeat(progress);
  };
  try {
    return await failFastOnBadInput(() => work(ctx.cancellationSignal, report));
  } finally {
    clearInterval(beat);
  }
}

/**
 * Runs `work`, turning an error whose name says the input is bad (schemas/errors.ts) into a non-retryable
 * failure of the same type. For steps that manage their own heartbeats (the training loops).
 */
export async function failFastOnBadInput<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error && (NON_RETRYABLE_ERRORS as readonly string[]).includes(err.name)) {
      throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true, cause: err });
    }
    throw err;
  }
}
