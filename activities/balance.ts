// Temporal-facing wrappers of the balance stage's data work (datasets/balance/). They add what only an
// activity can: heartbeats that carry resumable progress, resuming from the last heartbeat after a crash, and the
// mapping of bad input to non-retryable failures (retrying a corrupt file only wastes the retry budget).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';
import type { SourceConfig } from '../schemas/recipe.ts';
import * as balance from '../datasets/balance/index.ts';

/** How often a step heartbeats while its worker thread computes (well under any sensible heartbeat timeout). */
const HEARTBEAT_MS = 1_000;

async function asActivity<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof Error && (NON_RETRYABLE_ERRORS as readonly string[]).includes(err.name)) {
      throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true, cause: err });
    }
    throw err;
  }
}

export async function ingestSource(args: { source: SourceConfig; baseDir: string; workDir: string }): Promise<balance.IngestResult> {
  const ctx = Context.current();
  // Details of the previous attempt's last heartbeat: the files it had finished.
  const resume = ctx.info.heartbeatDetails as unknown;
  if (resume !== undefined) ctx.log.info('resuming ingest from heartbeat', { source: args.source.name });
  // Progress is heartbeated as it comes; between reports (a worker thread booting on a busy machine, a long row
  // group) the last report is repeated, so a live worker is never taken for a dead one.
  let last: unknown = resume;
  const beat = setInterval(() => ctx.heartbeat(last), HEARTBEAT_MS);
  try {
    return await asActivity(() =>
      // Cancellation reaches an activity through its heartbeats; the signal then stops the worker thread.
      balance.ingestSource({
        ...args,
        resume,
        signal: ctx.cancellationSignal,
        onProgress: (progress) => {
          last = progress;
          ctx.heartbeat(progress);
        },
      }),
    );
  } finally {
    clearInterval(beat);
  }
}

/**
 * Steps without resumable progress still heartbeat while their worker thread computes, so a dead worker is
 * noticed within the heartbeat timeout rather than the step's whole time limit.
 */
async function withHeartbeat<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
  try {
    return await asActivity(() => work(ctx.cancellationSignal));
  } finally {
    clearInterval(beat);
  }
}

export async function selectBalanced(args: Parameters<typeof balance.selectBalanced>[0]): ReturnType<typeof balance.selectBalanced> {
  return withHeartbeat((signal) => balance.selectBalanced({ ...args, signal }));
}

export async function writeRlDataset(args: Parameters<typeof balance.writeRlDataset>[0]): ReturnType<typeof balance.writeRlDataset> {
  return withHeartbeat((signal) => balance.writeRlDataset({ ...args, signal }));
}

export async function writeRejectsTable(args: Parameters<typeof balance.writeRejectsTable>[0]): ReturnType<typeof balance.writeRejectsTable> {
  return withHeartbeat((signal) => balance.writeRejectsTable({ ...args, signal }));
}
