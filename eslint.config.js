// Lint rules: typescript-eslint's recommended set, plus the layering of docs/ARCHITECTURE.md, bottom to top:
//   core/  <  schemas/ engine/ chat/ sandbox/ rewards/  <  datasets/ training/ agent/ report/  <  activities/  <  workflows/  <  infra/
// A layer never imports a higher one. (training/ and agent/ are the library layers of the SFT and GRPO stages.)
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LIBRARIES = ['schemas', 'engine', 'chat', 'sandbox', 'rewards'];
const COMBINING = ['datasets', 'training', 'agent', 'report'];

/** A no-restricted-imports rule forbidding imports of the given top-level folders. */
function forbid(folders, message, extra = []) {
  return { 'no-restricted-imports': ['error', { patterns: [...folders.map((f) => ({ group: [`**/${f}/**`, `**/${f}`], message })), ...extra] }] };
}
const NO_TEMPORAL = { group: ['@temporalio/*'], message: 'libraries know nothing of Temporal: map errors and heartbeat in activities/' };

export default tseslint.config(
  { ignores: ['node_modules/**', '.state/**', '.tools/**', 'runs/**', '**/*.py', 'test/fixtures/generated/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { console: 'readonly', process: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', performance: 'readonly', queueMicrotask: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', setImmediate: 'readonly', structuredClone: 'readonly', WebAssembly: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // core/ is the bottom layer: small helpers (digests, canonical JSON, atomic writes) every layer may use.
    files: ['core/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['../*', '!../core/*'], message: 'core/ imports nothing of the project' }] }] },
  },
  {
    files: LIBRARIES.map((l) => `${l}/**`),
    rules: forbid([...COMBINING, 'activities', 'workflows', 'infra'], 'schemas/engine/chat/sandbox/rewards must not import datasets/training/agent/activities/workflows/infra', [NO_TEMPORAL]),
  },
  {
    // The library layers that combine the ones below; no Temporal here.
    files: COMBINING.map((l) => `${l}/**`),
    rules: forbid(['activities', 'workflows', 'infra'], 'datasets/training/agent/report must not import activities/workflows/infra', [NO_TEMPORAL]),
  },
  {
    files: ['activities/**'],
    rules: forbid(['workflows', 'infra'], 'activities must not import workflows/infra'),
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node I/O modules.
    files: ['workflows/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'child_process', 'worker_threads', 'os', 'crypto'], message: 'workflows must stay deterministic: do I/O in activities' },
          { group: ['**/infra/**', '**/infra'], message: 'workflows must not import infra' },
        ],
      }],
    },
  },
);
