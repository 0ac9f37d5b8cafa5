// The recipe's model and sft sections: the card's defaults, field-level errors, optional stage sections run in
// recipe order up to `until`, and a stage's inputs required where no earlier stage provides them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRecipe, RecipeError, stagesToRun } from '../../schemas/recipe.ts';

const balance = { sources: [{ name: 'deepscaler', format: 'deepscaler_json', files: ['a.json'] }] };
const sft = { data: { files: ['sft/*.parquet'] } };
const model = { path: 'recipes/models/tiny', init_seed: 1 };

function issues(raw: unknown): string[] {
  try {
    parseRecipe(raw);
  } catch (err) {
    assert.ok(err instanceof RecipeError);
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
  return [];
}

test('sft defaults are the card\'s', () => {
  const r = parseRecipe({ seed: 1, model, sft });
  assert.deepEqual({ ...r.sft, data: undefined }, {
    data: undefined, epochs: 10, max_length: 32768, batch_size: 32, lr: 1e-5, schedule: { kind: 'cosine', warmup_ratio: 0.1 }, betas: [0.9, 0.95],
    weight_decay: 0.01, grad_clip: 1.0, save_every_steps: 50, multi_turn: 'per_turn', micro_batch_tokens: 4096,
  });
  assert.equal(r.until, 'sft', 'until defaults to the last stage present');
  assert.deepEqual(stagesToRun(r), ['sft']);
});

test('stage sections are optional and run in recipe order up to until', () => {
  assert.deepEqual(stagesToRun(parseRecipe({ seed: 1, balance, model, sft })), ['balance', 'sft']);
  assert.deepEqual(stagesToRun(parseRecipe({ seed: 1, balance, model, sft, until: 'balance' })), ['balance']);
  assert.deepEqual(stagesToRun(parseRecipe({ seed: 1, balance, until: 'sft' })), ['balance']);
  assert.deepEqual(issues({ seed: 1, until: 'sft' }), ['sft: no stage to run: add a "sft" section (or one of the stages before it)']);
});

test('SFT without its inputs is refused naming the fields', () => {
  assert.deepEqual(issues({ seed: 1, sft: {} }), ['sft.data.files: required: the SFT files (parquet or jsonl) to train on', 'model.path: required: the model directory SFT starts from']);
});

test('bad sft fields are named', () => {
  const got = issues({ seed: 1, model: { path: '' }, sft: { ...sft, epochs: 0, betas: [0.9], schedule: { kind: 'linear' }, lr: -1, multi_turn: 'both', extra: 1 } });
  for (const p of ['model.path', 'sft.epochs', 'sft.betas', 'sft.schedule.kind', 'sft.lr', 'sft.multi_turn', 'sft']) {
    assert.ok(got.some((g) => g.startsWith(`${p}:`)), `expected an issue at ${p}: ${JSON.stringify(got)}`);
  }
});

test('until is an upper bound: the stages present up to it run', () => {
  assert.deepEqual(stagesToRun(parseRecipe({ seed: 1, model, sft, until: 'grpo' })), ['sft']);
});
