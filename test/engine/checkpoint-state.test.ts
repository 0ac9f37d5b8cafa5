import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint, saveTrainingState, loadTrainingState } from '../../engine/checkpoint.ts';
import type { TrainingState } from '../../engine/checkpoint.ts';
import { Rng } from '../../engine/rng.ts';
import type { Weights } from '../../engine/tensors.ts';

const FIXTURES = new URL('../fixtures/engine/', import.meta.url).pathname;

function zerosLike(w: Weights): Weights {
  return new Map([...w].map(([n, t]) => [n, { shape: t.shape.slice(), data: new Float32Array(t.data.length) }]));
}

function clone(w: Weights): Weights {
  return new Map([...w].map(([n, t]) => [n, { shape: t.shape.slice(), data: t.data.slice() }]));
}

/**
 * One AdamW step (lr 1e-3, betas 0.9/0.999, wd 0.01) on pseudo-gradients drawn from the run's RNG: a stand-in
 * trainer whose every input (weights, moments, step, RNG) must come back from the checkpoint for resume to be exact.
 */
function trainStep(weights: Weights, state: { step: number; m: Weights; v: Weights; rng: Rng }): void {
  state.step += 1;
  const [lr, b1, b2, eps, wd] = [1e-3, 0.9, 0.999, 1e-8, 0.01];
  for (const [name, p] of weights) {
    const m = state.m.get(name)!.data;
    const v = state.v.get(name)!.data;
    for (let i = 0; i < p.data.length; i++) {
      const g = state.rng.normal();
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mh = m[i] / (1 - b1 ** state.step);
      const vh = v[i] / (1 - b2 ** state.step);
      p.data[i] = p.data[i] * (1 - lr * wd) - (lr * mh) / (Math.sqrt(vh) + eps);
    }
  }
}

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test('training resumes exactly: 4 straight steps == 2 steps, save, load, 2 steps (bit-identical)', withTmp(async (tmp) => {
  const start = await loadCheckpoint(`${FIXTURES}qwen3_untied`);
  // Straight run. The extra normal() after step 2 leaves a pending Box-Muller spare, which must survive the save.
  const straight = clone(start.weights);
  const s1 = { step: 0, m: zerosLike(straight), v: zerosLike(straight), rng: Rng.fromSeed(7, 'grads') };
  for (let i = 0; i < 2; i++) trainStep(straight, s1);
  s1.rng.normal();
  for (let i = 0; i < 2; i++) trainStep(straight, s1);

  const first = clone(start.weights);
  const s2 = { step: 0, m: zerosLike(first), v: zerosLike(first), rng: Rng.fromSeed(7, 'grads') };
  for (let i = 0; i < 2; i++) trainStep(first, s2);
  s2.rng.normal();
  const dir = join(tmp, 'step-2');
  await saveCheckpoint(dir, { config: start.config, weights: first, dtype: 'f32' });
  await saveTrainingState(dir, { step: s2.step, optimizer: { m: s2.m, v: s2.v }, rng: s2.rng.state(), extra: { epoch: 0, cursor: 64 } });

  const ck = await loadCheckpoint(dir);
  const st = await loadTrainingState(dir, ck.weights);
  assert.equal(st.step, 2);
  assert.deepEqual(st.extra, { epoch: 0, cursor: 64 });
  const s3 = { step: st.step, m: st.optimizer.m, v: st.optimizer.v, rng: Rng.fromState(st.rng) };
  for (let i = 0; i < 2; i++) trainStep(ck.weights, s3);

  for (const [name, t] of straight) {
    assert.deepEqual(new Uint32Array(ck.weights.get(name)!.data.buffer), new Uint32Array(t.data.buffer), name);
    assert.deepEqual(s3.m.get(name)!.data, s1.m.get(name)!.data, `m ${name}`);
    assert.deepEqual(s3.v.get(name)!.data, s1.v.get(name)!.data, `v ${name}`);
  }
  assert.deepEqual(s3.rng.state(), s1.rng.state());
  assert.notDeepEqual(straight.get('model.norm.weight')!.data, start.weights.get('model.norm.weight')!.data, 'training moved the weights');
}));

function smallState(): TrainingState {
  const w: Weights = new Map([
    ['a.weight', { shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, -0, 1e-30]) }],
    ['b.weight', { shape: [4], data: Float32Array.from([0.25, 0.5, 0.75, 1]) }],
  ]);
  return { step: 12, optimizer: { m: w, v: clone(w) }, rng: Rng.fromSeed(3).state(), extra: { z: [1, 2], a: { nested: 'x' } } };
}

test('training state files are byte-deterministic and keys are canonical', withTmp(async (tmp) => {
  await saveTrainingState(join(tmp, 'a'), smallState());
  await saveTrainingState(join(tmp, 'b'), smallState());
  for (const f of ['training_state.json', 'optimizer.safetensors']) {
    assert.deepEqual(readFileSync(join(tmp, 'a', f)), readFileSync(join(tmp, 'b', f)), f);
  }
  const doc = JSON.parse(readFileSync(join(tmp, 'a', 'training_state.json'), 'utf8'));
  assert.deepEqual(Object.keys(doc), ['extra', 'format', 'optimizer', 'rng', 'step', 'version']);
  assert.deepEqual(Object.keys(doc.extra), ['a', 'z']);
}));

test('a torn or foreign optimizer file is detected at load', withTmp(async (tmp) => {
  const dir = join(tmp, 's');
  await saveTrainingState(dir, smallState());
  const other = join(tmp, 'other');
  const changed = smallState();
  changed.optimizer.m.get('b.weight')!.data[0] = 9;
  await saveTrainingState(other, changed);
  cpSync(join(other, 'optimizer.safetensors'), join(dir, 'optimizer.safetensors'));
  await assert.rejects(loadTrainingState(dir), /optimizer\.safetensors: sha256 [0-9a-f]+ does not match training_state\.json/);
  writeFileSync(join(dir, 'optimizer.safetensors'), 'short');
  await assert.rejects(loadTrainingState(dir), /optimizer\.safetensors: 5 bytes, but training_state\.json records \d+/);
}));

test('bad training state input and mismatched moments are rejected with a clear message', withTmp(async (tmp) => {
  const s = smallState();
  await assert.rejects(saveTrainingState(join(tmp, 'x'), { ...s, extra: { lr: Number.NaN } }), /\$\.lr: NaN cannot be stored in JSON/);
  await assert.rejects(saveTrainingState(join(tmp, 'x'), { ...s, step: -1 }), /step must be a non-negative integer/);
  const v = clone(s.optimizer.v);
  v.delete('b.weight');
  await assert.rejects(saveTrainingState(join(tmp, 'x'), { ...s, optimizer: { m: s.optimizer.m, v } }), /optimizer v has no tensor "b.weight"/);

  await saveTrainingState(join(tmp, 'ok'), s);
  const like: Weights = new Map([...s.optimizer.m, ['c.weight', { shape: [1], data: new Float32Array(1) }]]);
  await assert.rejects(loadTrainingState(join(tmp, 'ok'), like), /optimizer m has no tensor "c.weight"/);
  const loaded = await loadTrainingState(join(tmp, 'ok'), s.optimizer.m);
  assert.deepEqual(loaded.optimizer.v.get('a.weight')!.data, s.optimizer.v.get('a.weight')!.data);
  assert.deepEqual(loaded.extra, s.extra);

  const docPath = join(tmp, 'ok', 'training_state.json');
  const doc = JSON.parse(readFileSync(docPath, 'utf8'));
  writeFileSync(docPath, JSON.stringify({ ...doc, rng: { ...doc.rng, s: [0, 0, 0, 0] } }));
  await assert.rejects(loadTrainingState(join(tmp, 'ok')), /training_state\.json: field "rng": RngState\.s: the all-zero state is invalid/);
}));
