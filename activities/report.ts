// The run report as an activity, so a stage's workflow can refresh `<run dir>/report.html` as its last step.
// Reading a run's files is quick, but the vega rendering is CPU work: a heartbeat every few seconds lets a dead
// worker be noticed. A report input that cannot be read fails the step without retries (it would fail again).
import { writeRunReport as writeReport } from '../report/index.ts';
import type { ArtifactRef } from '../schemas/artifact.ts';
import { runDirOf } from './stage.ts';
import { runStep } from './step-runner.ts';

/** Writes the report of a run's directory, given as a path or as the recipe and run id that decide it. */
export async function writeRunReport(args: { runDir: string } | { recipe: { base_dir?: string; output_dir?: string }; runId: string }): Promise<ArtifactRef> {
  const runDir = 'runDir' in args ? args.runDir : runDirOf({ ...args.recipe, output_dir: args.recipe.output_dir ?? 'runs' }, args.runId);
  return runStep(() => writeReport(runDir));
}
