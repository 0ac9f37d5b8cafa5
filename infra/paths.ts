// Where the project keeps things on disk. Everything mutable lives under the state directory so a user can
// see (and delete) a deployment's whole state in one place.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The Temporal database, demo data and logs; AGENTRL_STATE_DIR moves it. */
export function stateDir(): string {
  return resolve(process.env.AGENTRL_STATE_DIR ?? join(PROJECT_ROOT, '.state'));
}

export function toolsDir(): string {
  return join(PROJECT_ROOT, '.tools');
}

export function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}
