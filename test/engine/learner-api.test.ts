// The learner's public API in its own precision, and models the fused kernels cannot run: a float64 learner
// hands out float64 weights, gradients, moments and logits (its logits still match transformers' on the
// committed fixtures), and a model whose head_dim is not a multiple of 8 (onnxruntime's fused attention
// refuses it at run time) trains and samples on the explicit attention instead of crashing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { readQwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import { Sampler } from '../../engine/sampler.ts';
import type { Weights } from '../../engine/tensors.ts';

const FIXTURE = new URL('../fixtures/engine/qwen3_tied/', import.meta.url).pathname;

test('a float64 learner returns float64 weights, gradients, moments and logits; its logits match transformers', async () => {
  const { config } = await readQwen3Config(`${FIXTURE}config.json`);
  const weights = (await readSafetensors(`${FIXTURE}model.safetensors`)).tensors;
  const inputs = JSON.parse(await readFile(`${FIXTURE}inputs.json`, 'utf8')) as { input_ids: number[][]; attention_mask: number[][] };
  const want = (await readSafetensors(`${FIXTURE}outputs.safetensors`)).tensors.get('logits')!.data;
  // Weights that float32 cannot hold come back exactly.
  const fine: Weights<Float64Array> = new Map([...weights].map(([n, t]) => [n, { shape: t.shape, data: Float64Array.from(t.data, (x) => x + 2 ** -40) }]));
  const learner = await Learner.create(config, fine, { dtype: 'float64', deviceOptions: { threads: 1 } });
  try {
    const w = await learner.weights();
    for (const [n, t] of fine) {
      const got = w.get(n)!.data;
      assert.ok(got instanceof Float64Array, `${n} is ${got.constructor.name}`);
      assert.deepEqual(got, t.data, n);
    }
    await learner.setWeights(weights);
    const seq = { inputIds: inputs.input_ids, attentionMask: inputs.attention_mask, positionIds: inputs.input_ids.map((r) => r.map((_, t) => t)) };
    const logits = await learner.logits(seq);
    assert.ok(logits.data instanceof Float64Array);
    const v = config.vocabSize;
    let worst = 0;
    inputs.attention_mask.forEach((row, r) => row.forEach((m, t) => {
      if (!m) return;
      for (let k = 0; k < v; k++) worst = Math.max(worst, Math.abs(logits.data[(r * row.length + t) * v + k] - want[(r * row.length + t) * v + k]));
    }));
    assert.ok(worst < 2e-5, `float64 logits differ from transformers' by ${worst}`);
    const micro = { ...seq, lossMask: inputs.attention_mask };
    const { grads } = await learner.gradients([micro], { kind: 'sft' });
    for (const [n, g] of grads) assert.ok(g.data instanceof Float64Array, `gradient of ${n}`);
    await learner.trainStep([micro], { kind: 'sft' }, 1e-3);
    const state = await learner.state();
    for (const [n, m] of state.optimizer.m) assert.ok(m.data instanceof Float64Array && state.optimizer.v.get(n)!.data instanceof Float64Array, `moments of ${n}`);
  } finally {
    await learner.close();
  }
});

test('a head_dim that is not a multiple of 8 runs on the explicit attention (learner and sampler), not a crash', async () => {
  const { config: base } = await readQwen3Config(new URL('../../recipes/models/tiny/config.json', import.meta.url).pathname);
  const config = { ...base, headDim: 12 };
  const weights = initWeights(config, 1);
  const batch = { inputIds: [[1, 2, 3, 4, 5, 6], [7, 8, 9]] };
  const auto = await Learner.create(config, weights, { deviceOptions: { threads: 1 } });
  const masked = await Learner.create(config, weights, { deviceOptions: { threads: 1 }, attention: 'masked' });
  try {
    assert.equal(auto.attentionFor(batch), 'masked');
    assert.deepEqual(await auto.logProbs(batch), await masked.logProbs(batch));
    const step = await auto.trainStep([{ ...batch, lossMask: batch.inputIds.map((r) => r.map(() => 1)) }], { kind: 'sft' }, 1e-3);
    assert.ok(Number.isFinite(step.loss) && !step.skipped);
    const sampler = await Sampler.create(config, { device: auto.device, prefix: auto.prefix });
    const reference = await Sampler.create(config, { device: masked.device, weights: await auto.weights(), attention: 'masked' });
    try {
      const params = { temperature: 1, maxNewTokens: 6, seed: 4 };
      const [a, b] = [await sampler.generate(batch.inputIds, params), await reference.generate(batch.inputIds, params)];
      assert.deepEqual(a.map((g) => g.tokens), b.map((g) => g.tokens));
    } finally {
      await sampler.close();
      await reference.close();
    }
  } finally {
    await auto.close();
    await masked.close();
  }
});
