// The recipe's grpo section: an empty section is the model card, settings that contradict each other are refused
// naming every field involved, unknown keys are refused, and the reward settings follow the rollout budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpoSectionSchema, optimizerStepsPerRlStep, rewardSettingsOf } from '../../schemas/grpo.ts';

const issues = (input: unknown) => {
  const r = grpoSectionSchema.safeParse(input);
  assert.equal(r.success, false, 'expected a refusal');
  return r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

test('an empty section is the card', () => {
  const g = grpoSectionSchema.parse({});
  assert.deepEqual(g.data, { from: 'balance' });
  assert.deepEqual(g.val, { fraction: 0.05 });
  assert.deepEqual([g.epochs, g.batch_size, g.n, g.mini_batch_size, g.max_prompt_length, g.max_response_length, g.max_turns, g.lr], [3, 4, 8, 1, 2560, 10480, 16, 1e-6]);
  assert.deepEqual(g.clip, { low: 0.2, high: 0.28, dual_c: 3 });
  assert.deepEqual(g.optimizer, { beta1: 0.9, beta2: 0.999, weight_decay: 0.01, grad_clip: 1 });
  assert.deepEqual(g.rollout, { temperature: 1, top_p: 1, top_k: 0 });
  assert.deepEqual(g.validation, { every_steps: 10, before_training: true, n: 32, temperature: 1, top_p: 0.6, before_sft: true });
  assert.deepEqual(g.reward, { math: 'strict', tcr: { enabled: true, per_round: 0.1, cap: -0.6 }, overlong: { enabled: true, buffer: 3000, factor: 1 } });
  assert.deepEqual(g.tool, { backend: 'local', timeout_s: 30, memory_mb: 2048, output_chars: 256, truncate: 'middle', concurrency: 8 });
  assert.equal(g.save_every_steps, 30);
  assert.deepEqual(g.task_queues, {});
  assert.equal(g.dynamic_sampling.enabled, false);
  assert.equal(optimizerStepsPerRlStep(g), 4);
});

test('contradictory settings are refused naming every field involved', () => {
  const over = issues({ max_response_length: 2000 });
  assert.ok(over.some((m) => m.startsWith('reward.overlong.buffer: reward.overlong.buffer (3000) is larger than max_response_length (2000)')));
  assert.ok(over.some((m) => m.startsWith('max_response_length: ')));
  const mb = issues({ batch_size: 4, mini_batch_size: 3 });
  assert.deepEqual(mb.map((m) => m.split(':')[0]), ['mini_batch_size', 'batch_size']);
  assert.ok(issues({ clip: { low: 0.3, high: 0.2 } }).some((m) => m.startsWith('clip.high: clip.high (0.2) is below clip.low (0.3)')));
  assert.ok(issues({ tool: { backend: 'sandbox_fusion' } }).some((m) => m.startsWith('tool.url: tool.backend sandbox_fusion needs tool.url')));
  assert.ok(issues({ tool: { url: 'http://x:8080' } }).some((m) => m.startsWith('tool.url: tool.url is set but tool.backend is local')));
  assert.ok(issues({ reward: { tcr: { cap: 0.2 } } }).some((m) => m.startsWith('reward.tcr.cap: ')));
  assert.ok(issues({ n: 1, dynamic_sampling: { enabled: true } }).some((m) => m.startsWith('dynamic_sampling.enabled: ')));
  assert.ok(issues({ clip: { dual_c: 1 } }).some((m) => m.startsWith('clip.dual_c: ')));
  const baseline = issues({ validation: { before_training: false, baseline_model: { path: 'models/base' } } });
  assert.deepEqual(baseline.map((m) => m.split(':')[0]), ['validation.baseline_model', 'validation.before_training']);
  assert.ok(issues({ data: { from: 'balance', files: ['x'] } }).length > 0);
  assert.ok(issues({ bacth_size: 4 }).some((m) => /Unrecognized key.*bacth_size/.test(m)));
});

test('reward settings: overlong L_max is the response budget; math mode and TCR carried over', () => {
  const r = rewardSettingsOf(grpoSectionSchema.parse({ max_response_length: 4000, reward: { math: 'verify', overlong: { buffer: 1000, factor: 0.5 }, tcr: { per_round: 0.2 } } }));
  assert.deepEqual(r.overlong, { enabled: true, bufferTokens: 1000, factor: 0.5, maxResponseTokens: 4000 });
  assert.deepEqual(r.tcr, { enabled: true, perRound: 0.2, cap: -0.6 });
  assert.equal(r.math.mode, 'verify');
});

test('in the whole recipe: until defaults to grpo when present; a grpo stage needs a model and a source of prompts', async () => {
  const { parseRecipe } = await import('../../schemas/recipe.ts');
  const src = { name: 'omni_math', format: 'omni_math_jsonl', files: ['x.jsonl'] };
  const r = parseRecipe({ seed: 1, balance: { sources: [src] }, model: { path: 'm' }, grpo: {} });
  assert.equal(r.until, 'grpo');
  assert.equal(r.grpo!.n, 8);
  assert.throws(() => parseRecipe({ seed: 1, balance: { sources: [src] }, grpo: {} }), /model\.path: required: the model directory GRPO starts from/);
  assert.throws(() => parseRecipe({ seed: 1, model: { path: 'm' }, grpo: {} }), /grpo\.data: grpo\.data is \{from: balance\} but no balance stage runs: give grpo\.data\.files/);
  assert.equal(parseRecipe({ seed: 1, model: { path: 'm' }, grpo: { data: { files: ['rl.parquet'] } } }).until, 'grpo');
  assert.throws(() => parseRecipe({ seed: 1, model: { path: 'm' }, grpo: { data: { files: ['rl.parquet'] }, max_response_length: 100 } }), /grpo\.reward\.overlong\.buffer: reward\.overlong\.buffer \(3000\) is larger than max_response_length \(100\)/);
});
