// `agentrl trajectories <run-id> --step N`: prints a step's stored trajectory records (scored when scoring has
// finished, else as rolled out) from <output-dir>/<run-id>/grpo/work/.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatTrajectory } from '../agent/index.ts';
import { readTrajectoryFile } from '../schemas/trajectory.ts';

export async function printTrajectories(opts: { runId: string; step: number; validation: boolean; outputDir: string }): Promise<number> {
  const work = join(resolve(opts.outputDir), opts.runId, 'grpo', 'work');
  const name = `step-${String(opts.step).padStart(6, '0')}${opts.validation ? '-val' : ''}`;
  const scored = join(work, 'scored', `${name}.arrow`);
  const rolled = join(work, 'rollouts', name);
  let files: string[];
  if (existsSync(scored)) files = [scored];
  else if (existsSync(rolled)) files = readdirSync(rolled).filter((f) => f.endsWith('.arrow')).sort().map((f) => join(rolled, f));
  else {
    console.error(`no trajectories for step ${opts.step}${opts.validation ? ' (validation)' : ''} of run ${opts.runId} under ${work}`);
    return 1;
  }
  for (const f of files) for (const r of await readTrajectoryFile(f)) console.log(formatTrajectory(r) + '\n');
  console.error(`[agentrl] ${files.length === 1 && files[0] === scored ? 'scored' : 'unscored'} records from ${files.join(', ')}`);
  return 0;
}
