// Where the project keeps things on disk. Everything mutable lives under the state directory so a user can
// see (and delete) a deployment's whole state in one place.
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../core/project-root.ts';

export { PROJECT_ROOT };

/** The Temporal database, demo data and logs; AGENTRL_STATE_DIR moves it. */
export function stateDir(): string {
  return resolve(process.env.AGENTRL_STATE_DIR ?? join(PROJECT_ROOT, '.state'));
}

export function toolsDir(): string {
  return join(PROJECT_ROOT, '.tools');
}
