// The run report as an activity, so a stage's workflow can refresh `<run dir>/report.html` as its last step.
// Reading a run's files is quick, but the vega rendering is CPU work: a heartbeat every few seconds lets a dead
// worker be noticed. A report input that cannot be read fails the step without retries (it would fail again).
import { writeRunReport as writeReport } from '../report/index.ts';
import type { ArtifactRef } from '../schemas/artifact.ts';
import { runStep } from './step-runner.ts';

export async function writeRunReport(args: { runDir: string }): Promise<ArtifactRef> {
  return runStep(() => writeReport(args.runDir));
}
