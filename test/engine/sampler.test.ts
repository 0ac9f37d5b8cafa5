// The sampler: KV-cached greedy decoding equals recomputing the full forward pass at every step (also across an
// appended tool turn, for prompts started beside cached sequences, for a group of identical prompts prefilled once,
// and for long prompts prefilled one by one in query blocks), generation is reproducible from its seed,
// stop tokens / max new tokens end it, and token ids outside the vocabulary, or steps over the memory limit, are
// refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { Device } from '../../engine/runtime/device.ts';
import type { Session } from '../../engine/runtime/device.ts';
import { Sampler } from '../../engine/sampler.ts';
import { logitsProgram } from '../../engine/programs.ts';
import { encodeSequences } from '../../engine/batch.ts';
import { samplerBytes } from '../../engine/memory.ts';
import type { Weights } from '../../engine/tensors.ts';

const DIR = new URL('../fixtures/engine/qwen3_untied/', import.meta.url).pathname;
let config: Qwen3Config;
let weights: Weights;
let device: Device;
let reference: Session;

before(async () => {
  config = (await readQwen3Config(`${DIR}config.json`)).config;
  weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  device = new Device({ threads: 1 });
  for (const [name, t] of weights) await device.put(`ref/${name}`, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data) });
  reference = await device.load(logitsProgram(config, 'float32').bytes);
});
after(() => device.close());

/** Greedy continuation of `tokens` by recomputing the whole forward pass for every new token. */
async function greedyByRecompute(tokens: number[], n: number): Promise<{ tokens: number[]; logprobs: number[] }> {
  const seq = [...tokens];
  const out = { tokens: [] as number[], logprobs: [] as number[] };
  const v = config.vocabSize;
  for (let i = 0; i < n; i++) {
    const enc = encodeSequences({ inputIds: [seq] });
    const feeds = { ...Object.fromEntries([...weights.keys()].map((k) => [k, `ref/${k}`])), input_ids: enc.feeds.input_ids, position_ids: enc.feeds.position_ids, attention_mask: enc.feeds.attention_mask };
    const { logits } = await device.run(reference, feeds, { logits: null });
    const row = (logits.data as Float32Array).subarray((seq.length - 1) * v, seq.length * v);
    let best = 0;
    for (let k = 1; k < v; k++) if (row[k] > row[best]) best = k;
    const m = row[best];
    const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
    out.tokens.push(best);
    out.logprobs.push(row[best] - lse);
    seq.push(best);
  }
  return out;
}

const prompts = [[3, 17, 22], [5, 9, 41, 2, 33, 7, 12], [44, 1, 8, 30, 19]];

for (const attention of ['auto', 'masked'] as const) test(`temperature 0: KV-cached decode equals recomputing the full forward, also after an appended tool turn (attention ${attention})`, async () => {
  const sampler = await Sampler.create(config, { device, weights, dtype: 'float32', attention });
  const programs: string[] = [];
  sampler.onStep = (info) => programs.push(info.program);
  try {
    const gens = await sampler.generate(prompts, { temperature: 0, maxNewTokens: 12, seed: 1 });
    // The prompts (of different lengths) go through the fused prefill, unless the explicit form is asked for.
    assert.deepEqual(programs.slice(0, 2), attention === 'auto' ? ['prefill', 'decode'] : ['decode', 'decode']);
    assert.ok(programs.slice(1).every((p) => p === 'decode'));
    for (let i = 0; i < prompts.length; i++) {
      const want = await greedyByRecompute(prompts[i], 12);
      assert.deepEqual(gens[i].tokens, want.tokens, `row ${i} tokens`);
      gens[i].logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want.logprobs[k]) < 1e-4, `row ${i} logprob ${k}: ${lp} vs ${want.logprobs[k]}`));
      assert.equal(gens[i].finishReason, 'length');
    }
    // A tool turn appended to row 1 only; rows 0 and 2 keep their caches untouched and continue too.
    const tool = [40, 41, 42, 43, 44];
    sampler.extend(gens[1].seqId, tool);
    const more = await sampler.continue(gens.map((g) => g.seqId), { temperature: 0, maxNewTokens: 6 });
    for (let i = 0; i < prompts.length; i++) {
      const history = [...prompts[i], ...gens[i].tokens, ...(i === 1 ? tool : [])];
      const want = await greedyByRecompute(history, 6);
      assert.deepEqual(more[i].tokens, want.tokens, `row ${i} after the tool turn`);
      assert.equal(sampler.length(gens[i].seqId), history.length + 6);
    }
    await sampler.release([gens[0].seqId]);
    const last = await sampler.continue([gens[2].seqId], { temperature: 0, maxNewTokens: 3 });
    const want = await greedyByRecompute([...prompts[2], ...gens[2].tokens, ...more[2].tokens], 3);
    assert.deepEqual(last[0].tokens, want.tokens, 'after releasing another row');
  } finally {
    await sampler.close();
  }
});

test('a step feeds only the sequences that run: fresh prompts beside cached ones, and continues of a subset', async () => {
  const sampler = await Sampler.create(config, { device, weights, dtype: 'float32' });
  const steps: { rows: number; program: string }[] = [];
  sampler.onStep = (info) => steps.push({ rows: info.rows, program: info.program });
  try {
    const [first] = await sampler.generate([prompts[0]], { temperature: 0, maxNewTokens: 4, seed: 1 });
    steps.length = 0;
    const later = await sampler.generate([prompts[1], prompts[2]], { temperature: 0, maxNewTokens: 5, seed: 2 });
    // Only the two new rows are fed to the prefill, and only they to the decode steps after it (the older
    // sequence's row is swapped out of their way, its cache kept).
    assert.deepEqual(steps[0], { rows: 2, program: 'prefill' });
    assert.ok(steps.slice(1).every((s) => s.rows === 2 && s.program === 'decode'));
    for (const [i, g] of later.entries()) assert.deepEqual(g.tokens, (await greedyByRecompute(prompts[i + 1], 5)).tokens, `new row ${i}`);
    // The older sequence's cache was left as it was, wherever its row went; a continue feeds its row alone.
    steps.length = 0;
    const [more] = await sampler.continue([first.seqId], { temperature: 0, maxNewTokens: 3 });
    assert.deepEqual(more.tokens, (await greedyByRecompute([...prompts[0], ...first.tokens], 3)).tokens);
    assert.ok(steps.every((s) => s.rows === 1));
    // The middle one of the three, then all three: every cache still matches its history.
    const [mid] = await sampler.continue([later[0].seqId], { temperature: 0, maxNewTokens: 2 });
    assert.deepEqual(mid.tokens, (await greedyByRecompute([...prompts[1], ...later[0].tokens], 2)).tokens);
    const all = await sampler.continue([first.seqId, later[0].seqId, later[1].seqId], { temperature: 0, maxNewTokens: 2 });
    const histories = [[...prompts[0], ...first.tokens, ...more.tokens], [...prompts[1], ...later[0].tokens, ...mid.tokens], [...prompts[2], ...later[1].tokens]];
    for (const [i, h] of histories.entries()) assert.deepEqual(all[i].tokens, (await greedyByRecompute(h, 2)).tokens, `sequence ${i} after the swaps`);
  } finally {
    await sampler.close();
  }
});

test('a prefill feeds each distinct prompt once (a GRPO group), and long prompts one by one in query blocks', async () => {
  const sampler = await Sampler.create(config, { device, weights, dtype: 'float32' });
  const steps: { rows: number; program: string; queryBlocks: number }[] = [];
  sampler.onStep = (info) => steps.push({ rows: info.rows, program: info.program, queryBlocks: info.queryBlocks });
  try {
    const group = [prompts[1], prompts[0], prompts[1], prompts[1]];
    const gens = await sampler.generate(group, { temperature: 0, maxNewTokens: 5, seed: 3 });
    assert.deepEqual(steps[0], { rows: 2, program: 'prefill', queryBlocks: 0 });
    // Every row decodes from its own copy of the prompt's cache: all match recomputing the forward.
    for (const [i, g] of gens.entries()) assert.deepEqual(g.tokens, (await greedyByRecompute(group[i], 5)).tokens, `row ${i}`);
    await sampler.release(gens.map((g) => g.seqId));
    // One prompt of 800 tokens: 4 blocks of 200 queries.
    steps.length = 0;
    const long = Array.from({ length: 800 }, (_, t) => (t * 7 + 3) % config.vocabSize);
    const [g] = await sampler.generate([long], { temperature: 0, maxNewTokens: 3, seed: 3 });
    assert.deepEqual(steps[0], { rows: 1, program: 'prefill', queryBlocks: 4 });
    const want = await greedyByRecompute(long, 3);
    assert.deepEqual(g.tokens, want.tokens);
    g.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want.logprobs[k]) < 1e-4, `logprob ${k}: ${lp} vs ${want.logprobs[k]}`));
    await sampler.release([g.seqId]);
    // Two long prompts (and a copy of the second): each prefilled on its own, in blocks, then decoded together.
    steps.length = 0;
    const other = Array.from({ length: 790 }, (_, t) => (t * 11 + 5) % config.vocabSize);
    const three = await sampler.generate([long, other, other], { temperature: 0, maxNewTokens: 3, seed: 3 });
    assert.deepEqual(steps.slice(0, 3), [
      { rows: 1, program: 'prefill', queryBlocks: 4 },
      { rows: 1, program: 'prefill', queryBlocks: 4 },
      { rows: 3, program: 'decode', queryBlocks: 0 },
    ]);
    assert.deepEqual(three[0].tokens, want.tokens);
    const wantOther = await greedyByRecompute(other, 3);
    assert.deepEqual([three[1].tokens, three[2].tokens], [wantOther.tokens, wantOther.tokens]);
  } finally {
    await sampler.close();
  }
});

test('a step that would not fit in the memory limit is refused before the cache grows, naming rows and slots', async () => {
  // Room for a short prompt's cache and step (320 slots, 7 tokens) twice over, not for 2,000 tokens.
  const short = samplerBytes(config, { cacheRows: 1, slots: 320, rows: 1, tokens: 7, prefill: true, blocks: 0 }).total;
  const sampler = await Sampler.create(config, { device, weights, memoryLimit: 2 * short });
  try {
    const long = Array.from({ length: 2000 }, (_, t) => t % config.vocabSize);
    // Twice: the refused sequence is not left behind (it would make the second one 2 sequences).
    for (let i = 0; i < 2; i++) {
      await assert.rejects(sampler.generate([long], { temperature: 0, maxNewTokens: 2, seed: 1 }), (e: Error) => {
        assert.match(e.message, /^sampler: 2 cache rows x 2304 cache slots/);
        assert.match(e.message, /SamplerOptions\.memoryLimit/);
        return true;
      });
    }
    const [gen] = await sampler.generate([prompts[1]], { temperature: 0, maxNewTokens: 4, seed: 1 });
    assert.deepEqual(gen.tokens, (await greedyByRecompute(prompts[1], 4)).tokens);
  } finally {
    await sampler.close();
  }
});

test('temperature 0, one sequence alone (its runs padded to two rows) equals recomputing the forward', async () => {
  const sampler = await Sampler.create(config, { device, weights, dtype: 'float32' });
  try {
    const [gen] = await sampler.generate([prompts[1]], { temperature: 0, maxNewTokens: 10, seed: 1 });
    const want = await greedyByRecompute(prompts[1], 10);
    assert.deepEqual(gen.tokens, want.tokens);
    gen.logprobs.forEach((lp, k) => assert.ok(Math.abs(lp - want.logprobs[k]) < 1e-4, `logprob ${k}: ${lp} vs ${want.logprobs[k]}`));
  } finally {
    await sampler.close();
  }
});

test('sampling is reproducible from its seed; stop tokens and max new tokens end a sequence', async () => {
  const params = { temperature: 1, topP: 0.95, topK: 30, maxNewTokens: 16, seed: 7 };
  const run = async (p: typeof params & { stopTokens?: number[] }) => {
    const s = await Sampler.create(config, { device, weights });
    try {
      return await s.generate(prompts, p);
    } finally {
      await s.close();
    }
  };
  const a = await run(params);
  const b = await run(params);
  assert.deepEqual(a.map((g) => g.tokens), b.map((g) => g.tokens));
  const c = await run({ ...params, seed: 8 });
  assert.notDeepEqual(a.map((g) => g.tokens), c.map((g) => g.tokens));
  a.forEach((g) => g.logprobs.forEach((lp) => assert.ok(lp <= 0 && Number.isFinite(lp))));

  // Stop at the first token row 0 produced at its 4th step: that row ends there, with reason 'stop'.
  const stop = a[0].tokens[3];
  const stopped = await run({ ...params, stopTokens: [stop] });
  const at = a[0].tokens.indexOf(stop);
  assert.deepEqual(stopped[0].tokens, a[0].tokens.slice(0, at + 1));
  assert.equal(stopped[0].finishReason, 'stop');
  for (const g of stopped) assert.ok(g.finishReason === 'stop' || g.tokens.length === 16);
});

test('token ids outside the vocabulary are refused with the row and column that hold them', async () => {
  const s = await Sampler.create(config, { device, weights });
  try {
    const params = { temperature: 0, maxNewTokens: 2, seed: 0 };
    await assert.rejects(s.generate([[1, 2], [3, -1]], params), /prompts\[1\]\[1\] is -1, not a token id in \[0, \d+\)/);
    await assert.rejects(s.generate([[1, config.vocabSize]], params), new RegExp(`prompts\\[0\\]\\[1\\] is ${config.vocabSize}`));
    const [g] = await s.generate([[1, 2]], params);
    assert.throws(() => s.extend(g.seqId, [4, 2.5]), /is 2.5, not a token id/);
  } finally {
    await s.close();
  }
});
