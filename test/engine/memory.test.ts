// Memory: the learner refuses a micro-batch whose pass would not fit (LearnerOptions.memoryLimit, by default the
// machine's memory) before anything runs, naming it and what it would take, and leaves weights and step as they
// were; the estimate grows as the memory it stands for does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readQwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { Learner } from '../../engine/learner.ts';
import { passBytes } from '../../engine/memory.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';

const DIR = new URL('../fixtures/engine/qwen3_tied/', import.meta.url).pathname;

function micro(rows: number, tokens: number): TrainMicroBatch {
  const inputIds = Array.from({ length: rows }, (_, r) => Array.from({ length: tokens }, (_, t) => (t * 7 + r) % 40));
  return { inputIds, lossMask: inputIds.map((row) => row.map((_, t) => (t < row.length - 1 ? 1 : 0))) };
}

test('the estimate is quadratic in the length for attention, linear in the head rows, and smallest when recomputing', async () => {
  const { config } = await readQwen3Config(`${DIR}config.json`);
  const at = (cols: number, headRows: number, kind: 'causal' | 'causal-recompute' | 'masked') => passBytes(config, { rows: 2, cols, headRows }, kind, 'train');
  assert.equal(at(2048, 10, 'causal').attention, 4 * at(1024, 10, 'causal').attention);
  assert.equal(at(64, 20, 'causal').head, 2 * at(64, 10, 'causal').head);
  assert.ok(at(4096, 10, 'causal-recompute').attention < at(4096, 10, 'causal').attention);
  assert.ok(at(4096, 10, 'causal').attention < at(4096, 10, 'masked').attention);
  assert.ok(passBytes(config, { rows: 2, cols: 64, headRows: 10 }, 'causal', 'score').total < at(64, 10, 'causal').total);
});

test('a micro-batch over the memory limit is refused before anything runs, and names itself', async () => {
  const { config } = await readQwen3Config(`${DIR}config.json`);
  const weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  const small = micro(2, 16);
  const big = micro(2, 512);
  // A limit between the two micro-batches' estimates.
  const need = (rows: number, cols: number) => passBytes(config, { rows, cols, headRows: rows * (cols - 1) }, 'causal', 'train').total;
  const limit = Math.sqrt(need(2, 16) * need(2, 512));
  const learner = await Learner.create(config, weights, { deviceOptions: { threads: 1 }, memoryLimit: limit });
  try {
    const before = await learner.weights();
    await assert.rejects(learner.trainStep([small, big], { kind: 'sft' }, 1e-2), (e: Error) => {
      assert.match(e.message, /micro-batch 1 \(2 rows x 512 tokens, causal attention\) needs about [\d.]+ GiB/);
      assert.match(e.message, /LearnerOptions\.memoryLimit/);
      return true;
    });
    assert.equal(learner.step, 0);
    const after = await learner.weights();
    for (const [name, w] of before) assert.deepEqual(after.get(name)!.data, w.data, `${name} changed`);
    await assert.rejects(learner.logProbs(big), /the batch \(2 rows x 512 tokens/);
    // A long micro-batch runs row by row, and the row that does not fit is named.
    const mixed = { inputIds: [small.inputIds[0], micro(1, 2000).inputIds[0]], lossMask: [small.lossMask[0], micro(1, 2000).lossMask[0]] };
    await assert.rejects(learner.trainStep([small, mixed], { kind: 'sft' }, 1e-2), /micro-batch 1, row 1 \(1 rows x 2000 tokens, causal-blocked-8 attention\)/);
    // Under the limit it trains as ever.
    const result = await learner.trainStep([small], { kind: 'sft' }, 1e-2);
    assert.equal(result.skipped, false);
    assert.equal(learner.step, 1);
  } finally {
    await learner.close();
  }
});

test('by default a micro-batch larger than the machine is refused instead of running the process out of memory', async () => {
  const { config } = await readQwen3Config(`${DIR}config.json`);
  const weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  const learner = await Learner.create(config, weights, { deviceOptions: { threads: 1 } });
  try {
    // One row of 2^20 tokens: even in 256 query blocks, one block's attention probabilities are 64 GiB.
    await assert.rejects(learner.trainStep([micro(1, 2 ** 20)], { kind: 'sft' }, 1e-2), /micro-batch 0 \(1 rows x 1048576 tokens, causal-blocked-256 attention\) needs about 2\d\d\.\d GiB/);
  } finally {
    await learner.close();
  }
});
