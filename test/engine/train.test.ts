// Training behaviour: exact resume through a checkpoint, a tiny model learning a synthetic task with the SFT loss,
// the GRPO loss moving probability toward positive-advantage tokens, and a non-finite gradient skipping the step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { loadCheckpoint, loadTrainingState, saveCheckpoint, saveTrainingState } from '../../engine/checkpoint.ts';
import { Learner } from '../../engine/learner.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';
import type { Rng } from '../../engine/rng.ts';

const TINY = new URL('../../recipes/models/tiny/config.json', import.meta.url).pathname;
const tiny = async (): Promise<Qwen3Config> => (await readQwen3Config(TINY)).config;
const opts = { deviceOptions: { threads: 1 }, seed: 11 };

/**
 * Rows [k, x0, x0 + k, x0 + 2k, ...] (mod 20, as tokens 10..29, k as token 1..3): predicting the progression
 * needs the step token at the start of the row. Loss on every progression token after the first two.
 */
function progressionBatch(rng: Rng, rows: number, len: number): TrainMicroBatch {
  const inputIds: number[][] = [];
  const lossMask: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const k = 1 + rng.int(3);
    const x0 = rng.int(20);
    const row = [k, ...Array.from({ length: len - 1 }, (_, i) => 10 + ((x0 + i * k) % 20))];
    inputIds.push(row);
    lossMask.push(row.map((_, t) => (t >= 2 && t < len - 1 ? 1 : 0)));
  }
  return { inputIds, lossMask };
}

test('resume: N steps, save, load, M steps == N + M steps straight (weights, moments, step, RNG)', async () => {
  const cfg = await tiny();
  const dir = await mkdtemp(join(tmpdir(), 'engine-resume-'));
  const stepOnce = async (l: Learner) => {
    // The batch comes from the learner's own RNG, so the RNG state must survive the checkpoint too.
    const micro = [progressionBatch(l.rng, 3, 9), progressionBatch(l.rng, 2, 7)];
    return (await l.trainStep(micro, { kind: 'sft' }, 3e-3)).loss;
  };
  try {
    const straight = await Learner.create(cfg, initWeights(cfg, 5), opts);
    const lossesStraight: number[] = [];
    for (let i = 0; i < 5; i++) lossesStraight.push(await stepOnce(straight));

    const first = await Learner.create(cfg, initWeights(cfg, 5), opts);
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push(await stepOnce(first));
    await saveCheckpoint(dir, { config: cfg, weights: await first.weights(), dtype: 'f32' });
    await saveTrainingState(dir, { ...(await first.state()), extra: {} });
    await first.close();

    const ckpt = await loadCheckpoint(dir);
    const resumed = await Learner.create(ckpt.config, ckpt.weights, opts);
    await resumed.loadState(await loadTrainingState(dir, ckpt.weights));
    assert.equal(resumed.step, 3);
    for (let i = 0; i < 2; i++) losses.push(await stepOnce(resumed));

    assert.deepEqual(losses, lossesStraight);
    assert.equal(resumed.step, straight.step);
    const [a, b] = [await resumed.weights(), await straight.weights()];
    for (const [name, t] of b) assert.deepEqual(a.get(name)!.data, t.data, `weights ${name}`);
    const [sa, sb] = [await resumed.state(), await straight.state()];
    for (const [name, t] of sb.optimizer.v) assert.deepEqual(sa.optimizer.v.get(name)!.data, t.data, `moment v ${name}`);
    assert.deepEqual(sa.rng, sb.rng);
    await Promise.all([resumed.close(), straight.close()]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('SFT: the tiny model learns an in-context progression task (loss from ~6.2 to below 0.5)', async () => {
  const cfg = await tiny();
  const learner = await Learner.create(cfg, initWeights(cfg, 1), { ...opts, optimizer: { weightDecay: 0 } });
  try {
    const losses: number[] = [];
    for (let step = 0; step < 150; step++) {
      const r = await learner.trainStep([progressionBatch(learner.rng, 16, 12)], { kind: 'sft' }, 1e-2);
      assert.equal(r.skipped, false);
      losses.push(r.loss);
    }
    const tail = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    assert.ok(losses[0] > 5.5, `initial loss ${losses[0]}`);
    assert.ok(tail < 0.5, `final loss ${tail} (first ${losses[0]})`);
  } finally {
    await learner.close();
  }
});

test('GRPO: probability moves toward positive-advantage tokens and away from negative ones', async () => {
  const cfg = await tiny();
  const learner = await Learner.create(cfg, initWeights(cfg, 2), opts);
  try {
    const prompt = [7, 8, 9];
    const good = 100;
    const bad = 200;
    // Four rollouts of the same prompt: two answered `good` (A = +1), two `bad` (A = -1); loss on the answer only.
    const inputIds = [good, bad, good, bad].map((tok) => [...prompt, tok]);
    const targets = inputIds.map((row) => [...row.slice(1), 0]);
    const lossMask = inputIds.map(() => [0, 0, 1, 0]);
    const advantages = [1, -1, 1, -1].map((a) => [a, a, a, a]);
    const score = async () => {
      const { logp } = await learner.logProbs({ inputIds: [prompt.concat(good), prompt.concat(bad)], targets: [[8, 9, good, 0], [8, 9, bad, 0]] });
      return { good: logp[0][2], bad: logp[1][2] };
    };
    const before = await score();
    const spec = { kind: 'grpo' as const, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 };
    for (let step = 0; step < 8; step++) {
      const { logp: oldLogp } = await learner.logProbs({ inputIds, targets });
      const r = await learner.trainStep([{ inputIds, targets, lossMask, oldLogp, advantages }], spec, 1e-3);
      assert.equal(r.skipped, false);
      assert.ok(Math.abs(r.metrics.ppo_kl) < 1e-5, 'on-policy: old log-probs are the current ones');
    }
    const after = await score();
    assert.ok(after.good > before.good + 1, `log p(good) ${before.good} -> ${after.good}`);
    assert.ok(after.bad < before.bad - 1, `log p(bad) ${before.bad} -> ${after.bad}`);
  } finally {
    await learner.close();
  }
});

test('a non-finite gradient norm skips the update (weights, moments and step unchanged)', async () => {
  const cfg = await tiny();
  const learner = await Learner.create(cfg, initWeights(cfg, 3), opts);
  try {
    const batch = progressionBatch(learner.rng, 2, 6);
    await learner.trainStep([batch], { kind: 'sft' }, 1e-3);
    const before = await learner.weights();
    const state = await learner.state();
    // A huge (finite) advantage overflows float32 in the gradients, so the gradient norm is not finite. (A
    // non-finite advantage itself is refused up front, with its row and column.)
    const inf = batch.inputIds.map((row) => row.map(() => 1e37));
    const old = batch.inputIds.map((row) => row.map(() => -3));
    const r = await learner.trainStep([{ ...batch, oldLogp: old, advantages: inf }], { kind: 'grpo', epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 }, 1e-3);
    assert.equal(r.skipped, true);
    assert.ok(!Number.isFinite(r.gradNorm));
    assert.equal(learner.step, 1);
    const after = await learner.weights();
    for (const [name, t] of before) assert.deepEqual(after.get(name)!.data, t.data, name);
    assert.deepEqual((await learner.state()).optimizer.m, state.optimizer.m);
  } finally {
    await learner.close();
  }
});

test('AdamW step equals torch.optim.AdamW computed from the gradients (clipping, decay, bias correction)', async () => {
  const cfg = await tiny();
  const optimizer = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 0.5 };
  const learner = await Learner.create(cfg, initWeights(cfg, 8), { ...opts, optimizer });
  try {
    const lr = 2e-3;
    // Step 1 fills the moments; step 2 is checked, from the moments and gradients it starts with.
    await learner.trainStep([progressionBatch(learner.rng, 3, 8)], { kind: 'sft' }, lr);
    const batch = [progressionBatch(learner.rng, 2, 9), progressionBatch(learner.rng, 1, 5)];
    const w0 = await learner.weights();
    const s0 = await learner.state();
    const { grads } = await learner.gradients(batch, { kind: 'sft' });
    const r = await learner.trainStep(batch, { kind: 'sft' }, lr);
    let sumSq = 0;
    for (const t of grads.values()) for (const x of t.data) sumSq += x * x;
    assert.ok(Math.abs(r.gradNorm - Math.sqrt(sumSq)) <= 1e-4 * Math.sqrt(sumSq), `grad norm ${r.gradNorm} vs ${Math.sqrt(sumSq)}`);
    assert.ok(r.gradNorm > optimizer.maxGradNorm, 'the check needs a clipped step');
    const coef = optimizer.maxGradNorm / (Math.sqrt(sumSq) + 1e-6);
    const [b1, b2, t] = [optimizer.beta1, optimizer.beta2, 2];
    const w1 = await learner.weights();
    for (const [name, p] of w0) {
      const g = grads.get(name)!.data;
      const m = s0.optimizer.m.get(name)!.data;
      const v = s0.optimizer.v.get(name)!.data;
      for (let i = 0; i < p.data.length; i++) {
        const gi = g[i] * coef;
        const mi = b1 * m[i] + (1 - b1) * gi;
        const vi = b2 * v[i] + (1 - b2) * gi * gi;
        const expected = p.data[i] * (1 - lr * optimizer.weightDecay) - (lr / (1 - b1 ** t)) * mi / (Math.sqrt(vi / (1 - b2 ** t)) + optimizer.eps);
        const got = w1.get(name)!.data[i];
        assert.ok(Math.abs(got - expected) <= 1e-6 + 1e-5 * Math.abs(expected), `${name}[${i}]: ${got} vs ${expected}`);
      }
    }
  } finally {
    await learner.close();
  }
});

test('a micro-batch without loss tokens adds nothing to the mini-batch', async () => {
  const cfg = await tiny();
  const make = async () => Learner.create(cfg, initWeights(cfg, 4), opts);
  const [a, b] = [await make(), await make()];
  try {
    const batch = progressionBatch(a.rng, 2, 7);
    const empty: TrainMicroBatch = { inputIds: [[3, 11, 12, 13]], lossMask: [[0, 0, 0, 0]] };
    const ra = await a.trainStep([batch], { kind: 'sft' }, 1e-3);
    const rb = await b.trainStep([empty, batch, empty], { kind: 'sft' }, 1e-3);
    assert.equal(rb.lossTokens, ra.lossTokens);
    assert.ok(Math.abs(ra.loss - rb.loss) <= 1e-6 * Math.abs(ra.loss), `${ra.loss} vs ${rb.loss}`);
    const [wa, wb] = [await a.weights(), await b.weights()];
    for (const [name, t] of wa) {
      const other = wb.get(name)!.data;
      for (let i = 0; i < t.data.length; i++) assert.ok(Math.abs(t.data[i] - other[i]) <= 1e-7 + 1e-6 * Math.abs(t.data[i]), `${name}[${i}]`);
    }
  } finally {
    await a.close();
    await b.close();
  }
});
