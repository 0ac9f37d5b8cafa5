// Lint rules: typescript-eslint's recommended set, plus the layering rule of the design card:
// lower layers (core, schemas, engine, chat, sandbox, rewards) never import higher ones.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const higher = ['**/activities/**', '**/workflows/**', '**/infra/**'];

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
    files: ['schemas/**', 'engine/**', 'chat/**', 'sandbox/**', 'rewards/**', 'agent/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: higher.map((group) => ({ group: [group], message: 'lower layers must not import activities/workflows/infra' })) }] },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node I/O modules.
    files: ['workflows/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'child_process', 'worker_threads', 'os', 'crypto'], message: 'workflows must stay deterministic: do I/O in activities' }] }] },
  },
);
