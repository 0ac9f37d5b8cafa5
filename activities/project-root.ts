import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, for the package version and git commit that the audit records. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
