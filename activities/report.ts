// The run report as an activity, so a stage's workflow can refresh `<run dir>/report.html` as its last step.
// Reading a run's files is quick, but the vega rendering is CPU work: a heartbeat every few seconds lets a dead
// worker be noticed. A report input that cannot be read fails the step without retries (it would fail again).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { writeRunReport as writeReport } from '../report/index.ts';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';
import type { ArtifactRef } from '../schemas/artifact.ts';

export async function writeRunReport(args: { runDir: string }): Promise<ArtifactRef> {
  const ctx = Context.current();
  const beat = setInterval(() => ctx.heartbeat(), 5_000);
  try {
    return await writeReport(args.runDir);
  } catch (err) {
    if (err instanceof Error && (NON_RETRYABLE_ERRORS as readonly string[]).includes(err.name)) {
      throw ApplicationFailure.create({ type: err.name, message: err.message, nonRetryable: true, cause: err });
    }
    throw err;
  } finally {
    clearInterval(beat);
  }
}
