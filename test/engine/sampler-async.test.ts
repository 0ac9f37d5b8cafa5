// The sampler under an asynchronous agent loop: concurrent calls never corrupt each other's tokens, each call
// resolves when its own sequence stops (a sequence waiting on a tool never holds up the others), a GRPO group
// started together shares one prefill, and a sequence's tokens and log-probs are the same bit for bit whether it
// ran alone or beside others started, resumed and released at other times.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { initWeights } from '../../engine/init.ts';
import { Device } from '../../engine/runtime/device.ts';
import type { Session } from '../../engine/runtime/device.ts';
import { Sampler } from '../../engine/sampler.ts';
import type { Generation } from '../../engine/sampler.ts';
import { logitsProgram } from '../../engine/programs.ts';
import { encodeSequences } from '../../engine/batch.ts';
import type { Weights } from '../../engine/tensors.ts';

const DIR = new URL('../fixtures/engine/qwen3_untied/', import.meta.url).pathname;
let config: Qwen3Config;
let weights: Weights;
let device: Device;
let reference: Session;

before(async () => {
  config = (await readQwen3Config(`${DIR}config.json`)).config;
  weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  device = new Device({ threads: 2 });
  for (const [name, t] of weights) await device.put(`ref/${name}`, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) });
  reference = await device.load(logitsProgram(config, 'float32').bytes);
});
after(() => device.close());

/** Greedy continuation of `tokens` by recomputing the whole forward pass for every new token. */
async function greedyByRecompute(tokens: number[], n: number): Promise<number[]> {
  const seq = [...tokens];
  const out: number[] = [];
  const v = config.vocabSize;
  for (let i = 0; i < n; i++) {
    const enc = encodeSequences({ inputIds: [seq] });
    const feeds = { ...Object.fromEntries([...weights.keys()].map((k) => [k, `ref/${k}`])), input_ids: enc.feeds.input_ids, position_ids: enc.feeds.position_ids, attention_mask: enc.feeds.attention_mask };
    const { logits } = await device.run(reference, feeds, { logits: null });
    const row = (logits.data as Float32Array).subarray((seq.length - 1) * v, seq.length * v);
    let best = 0;
    for (let k = 1; k < v; k++) if (row[k] > row[best]) best = k;
    out.push(best);
    seq.push(best);
  }
  return out;
}

const prompts = [[3, 17, 22], [5, 9, 41, 2, 33, 7, 12], [44, 1, 8, 30, 19]];

/** Resolves after the sampler's next `n` program runs. */
function afterRuns(sampler: Sampler, n: number): Promise<void> {
  return new Promise((resolve) => {
    const prev = sampler.onStep;
    let seen = 0;
    sampler.onStep = (info) => {
      prev?.(info);
      if (++seen === n) {
        sampler.onStep = prev;
        resolve();
      }
    };
  });
}

test('concurrent generate() and continue() calls do not corrupt each other (each equals the same call alone)', async () => {
  const params = { temperature: 1, topP: 0.9, maxNewTokens: 12, seed: 11 };
  const alone = async () => {
    const s = await Sampler.create(config, { device, weights });
    try {
      const a = await s.generate([prompts[0], prompts[1]], params);
      const b = await s.generate([prompts[2]], { ...params, seed: 12 });
      s.extend(a[0].seqId, [40, 41]);
      const c = await s.continue([a[0].seqId], { ...params, maxNewTokens: 6 });
      const d = await s.continue([b[0].seqId], { ...params, maxNewTokens: 9 });
      return [a, b, c, d].map((gs) => gs.map((g) => g.tokens));
    } finally {
      await s.close();
    }
  };
  const want = await alone();
  const s = await Sampler.create(config, { device, weights });
  try {
    const [a, b] = await Promise.all([s.generate([prompts[0], prompts[1]], params), s.generate([prompts[2]], { ...params, seed: 12 })]);
    s.extend(a[0].seqId, [40, 41]);
    const [c, d] = await Promise.all([s.continue([a[0].seqId], { ...params, maxNewTokens: 6 }), s.continue([b[0].seqId], { ...params, maxNewTokens: 9 })]);
    assert.deepEqual([a, b, c, d].map((gs) => gs.map((g) => g.tokens)), want);
  } finally {
    await s.close();
  }
});

test('each call resolves when its own sequence stops; a sequence resumed after its tool turn never waits for the others', async () => {
  const s = await Sampler.create(config, { device, weights });
  const runs: number[] = [];
  s.onStep = (info) => runs.push(info.rows);
  try {
    const greedy = { temperature: 0, seed: 1 };
    const long = s.start(prompts[1], { ...greedy, maxNewTokens: 40 });
    let longDone = false;
    void long.then(() => (longDone = true));
    const short = await s.start(prompts[0], { ...greedy, maxNewTokens: 3 });
    // The short sequence's call is back after its own 3 tokens, while the long one still decodes.
    assert.equal(longDone, false);
    assert.deepEqual(short.tokens, await greedyByRecompute(prompts[0], 3));
    // Its tool turn (appended, then decoded) and its end also come while the long one runs.
    const tool = [40, 41, 42, 43];
    const more = await s.resume(short.seqId, tool, { ...greedy, maxNewTokens: 5 });
    assert.equal(longDone, false);
    assert.deepEqual(more.tokens, await greedyByRecompute([...prompts[0], ...short.tokens, ...tool], 5));
    // A sequence takes one call at a time.
    const once = s.resume(short.seqId, [], { ...greedy, maxNewTokens: 1 });
    await assert.rejects(s.resume(short.seqId, [], { ...greedy, maxNewTokens: 1 }), /sequence \d+ is still generating/);
    await once;
    await s.release([short.seqId]);
    const g = await long;
    assert.deepEqual(g.tokens, await greedyByRecompute(prompts[1], 40));
    assert.equal(g.finishReason, 'length');
    // The long sequence's steps were batched with the short one's while both ran (two rows a step).
    assert.ok(runs.filter((r) => r === 2).length >= 3, `runs: ${runs.join(',')}`);
  } finally {
    await s.close();
  }
});

test('a GRPO group started together shares one prefill; the samples still differ by their seeds', async () => {
  const s = await Sampler.create(config, { device, weights });
  const runs: { rows: number; program: string }[] = [];
  s.onStep = (info) => runs.push({ rows: info.rows, program: info.program });
  try {
    const group = await Promise.all(Array.from({ length: 8 }, (_, i) => s.start(prompts[1], { temperature: 1, maxNewTokens: 8, seed: `7/0/uid-1/${i}` })));
    assert.deepEqual(runs[0], { rows: 1, program: 'prefill' });
    assert.equal(runs.filter((r) => r.program === 'prefill').length, 1);
    assert.ok(new Set(group.map((g) => g.tokens.join())).size > 1);
    // The same seeds give the same samples again.
    const again = await Promise.all(Array.from({ length: 8 }, (_, i) => s.start(prompts[1], { temperature: 1, maxNewTokens: 8, seed: `7/0/uid-1/${i}` })));
    assert.deepEqual(again.map((g) => g.tokens), group.map((g) => g.tokens));
  } finally {
    await s.close();
  }
});

/** A trajectory: start, then tool turns resumed, each after `delay` ms of "tool latency". */
async function trajectory(s: Sampler, prompt: number[], seed: string, turns: number[][], delay: number): Promise<Generation[]> {
  const out = [await s.start(prompt, { temperature: 1, topP: 0.95, maxNewTokens: 10, seed })];
  for (const t of turns) {
    await new Promise((r) => setTimeout(r, delay));
    out.push(await s.resume(out[0].seqId, t, { temperature: 1, topP: 0.95, maxNewTokens: 7 }));
  }
  return out;
}

const strip = (gs: Generation[]) => gs.map((g) => ({ tokens: g.tokens, logprobs: g.logprobs, finishReason: g.finishReason }));

for (const model of ['fixture', 'wider'] as const) {
  test(`a sequence's tokens and log-probs do not depend on the batch it ran in (${model} model)`, async () => {
    // 'wider' is wide enough that onnxruntime's Gemm blocks the products (hidden 256, vocabulary 4,096).
    const cfg = model === 'fixture' ? config : { ...config, hiddenSize: 256, numAttentionHeads: 8, numKeyValueHeads: 4, headDim: 32, intermediateSize: 512, vocabSize: 4096 };
    const w = model === 'fixture' ? weights : initWeights(cfg, 3, { std: 0.2 });
    const v = cfg.vocabSize;
    const x = [5, 9, 41, 2, 33, 7, 12, 8, 1];
    const turns = [[40, 41, 42], [3, 4]];
    const solo = await Sampler.create(cfg, { device, weights: w });
    const want = strip(await trajectory(solo, x, 'x', turns, 0));
    await solo.close();
    const s = await Sampler.create(cfg, { device, weights: w });
    try {
      // Others first: a group of 4 identical prompts, two distinct ones (one of 40 tokens), with their own
      // tool turns and latencies; x starts two runs later, and a released sequence frees a row under it.
      const others = [
        ...Array.from({ length: 4 }, (_, i) => trajectory(s, [1, 2, 3, 4, 5], `g${i}`, [[6, 7]], 3)),
        trajectory(s, Array.from({ length: 40 }, (_, t) => (t * 13 + 1) % v), 'long', [[9, 9, 9, 9, 9, 9]], 1),
        trajectory(s, [7, 7], 'short', [], 0).then(async (g) => (await s.release([g[0].seqId]), g)),
      ];
      await afterRuns(s, 2);
      const got = strip(await trajectory(s, x, 'x', turns, 2));
      await Promise.all(others);
      assert.deepEqual(got, want);
    } finally {
      await s.close();
    }
  });
}

test('a sequence stops at maxSequenceLength with reason length; a released id is unknown', async () => {
  const s = await Sampler.create(config, { device, weights, maxSequenceLength: 12 });
  try {
    const g = await s.start(prompts[1], { temperature: 0, maxNewTokens: 50, seed: 0 });
    assert.equal(g.tokens.length, 5);
    assert.equal(g.finishReason, 'length');
    assert.equal(s.length(g.seqId), 12);
    const none = await s.resume(g.seqId, [], { temperature: 0, maxNewTokens: 5 });
    assert.deepEqual(none.tokens, []);
    await s.release([g.seqId]);
    assert.throws(() => s.length(g.seqId), /no sequence/);
    await assert.rejects(s.resume(g.seqId, [1], { temperature: 0, maxNewTokens: 5 }), /no sequence/);
  } finally {
    await s.close();
  }
});
