// Finds the `temporal` executable in the same order infra/setup.sh installs it: an explicit AGENTRL_TEMPORAL, one
// on PATH (a user's own install), the project-local PyPI virtualenv, then the project-local `go install`.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { toolsDir } from './paths.ts';

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findTemporalCli(): string {
  const candidates: string[] = [];
  if (process.env.AGENTRL_TEMPORAL) candidates.push(process.env.AGENTRL_TEMPORAL);
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'temporal'));
  candidates.push(join(toolsDir(), 'temporal-venv', 'bin', 'temporal'), join(toolsDir(), 'go', 'bin', 'temporal'));
  const found = candidates.find(isExecutable);
  if (!found) {
    throw new Error('the Temporal CLI was not found (looked at AGENTRL_TEMPORAL, PATH and .tools/); run `npm run setup` first');
  }
  return found;
}
