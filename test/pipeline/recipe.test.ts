// The recipe is checked before anything starts, and every bad field is named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseRecipe, RecipeError } from '../../schemas/recipe.ts';
import { loadRecipeFile } from '../../infra/recipe-file.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

const minimal = {
  seed: 1,
  balance: { sources: [{ name: 'deepscaler', format: 'deepscaler_json', files: ['a.json'] }] },
};

test('defaults are filled in and the result is plain JSON', () => {
  const r = parseRecipe(minimal);
  assert.equal(r.balance!.per_source, 400);
  assert.equal(r.balance!.shortfall, 'error');
  assert.equal(r.until, 'balance');
  assert.equal(r.runtime.max_attempts, 5);
  assert.match(r.balance!.templates.math, /\{problem\}/);
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r);
});

test('every bad field is reported with its path', () => {
  const bad = {
    seed: -3,
    bogus: true,
    balance: {
      per_source: 0,
      sources: [
        { name: 'deepscaler', format: 'csv', files: [] },
        { name: 'deepscaler', format: 'omni_math_jsonl', files: ['x'], filters: { min_tests: 'two' } },
      ],
      templates: { math: 'no placeholder' },
    },
  };
  let err: RecipeError | undefined;
  try {
    parseRecipe(bad, 'bad.yaml');
  } catch (e) {
    err = e as RecipeError;
  }
  assert.ok(err instanceof RecipeError);
  const paths = err.issues.map((i) => i.path);
  for (const p of ['seed', '', 'balance.per_source', 'balance.sources.0.format', 'balance.sources.0.files', 'balance.sources.1.filters.min_tests', 'balance.templates.math']) {
    assert.ok(paths.includes(p), `expected an issue at "${p}", got ${JSON.stringify(paths)}`);
  }
  assert.match(err.message, /bad\.yaml/);
  assert.match(err.message, /bogus/);
});

test('two sources with one name are refused', () => {
  const src = { name: 'omni_math', format: 'omni_math_jsonl', files: ['x'] };
  assert.throws(() => parseRecipe({ seed: 1, balance: { sources: [src, src] } }), /balance\.sources\.1\.name: duplicate source name "omni_math"/);
});

test('stages that are not available yet are refused at validation', () => {
  assert.throws(() => parseRecipe({ ...minimal, until: 'grpo' }), /until: stage "grpo" is not available/);
});

test('a recipe file resolves relative paths against its own directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-recipe-'));
  const file = join(dir, 'r.yaml');
  writeFileSync(file, 'seed: 7\nbalance:\n  sources:\n    - {name: omni_math, format: omni_math_jsonl, files: [data/test.jsonl]}\n');
  const r = loadRecipeFile(file, { run_id: 'r1' });
  assert.equal(r.base_dir, dir);
  assert.equal(r.run_id, 'r1');
});

test('`agentrl run` with a bad recipe exits 2 naming the fields, before contacting any server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-recipe-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'seed: x\nbalance:\n  per_source: -1\n  sources: []\n');
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'infra/cli.ts'), 'run', file, '--address', '127.0.0.1:1'], {
    encoding: 'utf8',
    cwd: PROJECT_ROOT,
  });
  assert.equal(res.status, 2, res.stderr);
  assert.match(res.stderr, /bad\.yaml/);
  assert.match(res.stderr, /seed:/);
  assert.match(res.stderr, /balance\.per_source:/);
  assert.match(res.stderr, /balance\.sources:/);
  assert.doesNotMatch(res.stderr, /no Temporal server/);
});
