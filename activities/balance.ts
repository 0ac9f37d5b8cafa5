// The balance stage's activities: its data library (datasets/balance/) run as Temporal steps (runStep adds
// heartbeats, cancellation and the non-retryable mapping of bad input). Ingest reports resumable progress: a
// retried attempt starts from the files its predecessor finished.
import { Context } from '@temporalio/activity';
import type { SourceConfig } from '../schemas/recipe.ts';
import * as balance from '../datasets/balance/index.ts';
import { runStep } from './step-runner.ts';

export async function ingestSource(args: { source: SourceConfig; baseDir: string; workDir: string }): Promise<balance.IngestResult> {
  const ctx = Context.current();
  // Details of the previous attempt's last heartbeat: the files it had finished.
  const resume = ctx.info.heartbeatDetails as unknown;
  if (resume !== undefined) ctx.log.info('resuming ingest from heartbeat', { source: args.source.name });
  return runStep((signal, report) => balance.ingestSource({ ...args, resume, signal, onProgress: report }));
}

export async function selectBalanced(args: Parameters<typeof balance.selectBalanced>[0]): ReturnType<typeof balance.selectBalanced> {
  return runStep((signal) => balance.selectBalanced({ ...args, signal }));
}

export async function writeRlDataset(args: Parameters<typeof balance.writeRlDataset>[0]): ReturnType<typeof balance.writeRlDataset> {
  return runStep((signal) => balance.writeRlDataset({ ...args, signal }));
}

export async function writeRejectsTable(args: Parameters<typeof balance.writeRejectsTable>[0]): ReturnType<typeof balance.writeRejectsTable> {
  return runStep((signal) => balance.writeRejectsTable({ ...args, signal }));
}
