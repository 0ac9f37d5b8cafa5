// The fused causal attention (com.microsoft.GroupQueryAttention with our derivative rule) against the explicit
// masked form, whose rules are checked by finite differences in float64: log-probs, both losses and every
// gradient agree in float32, with grouped and plain multi-head attention, also when the probabilities are
// recomputed in the backward; and the learner runs the fused form only for batches it is exact for.
// (HF parity, test/engine/parity.test.ts, runs the fused form as well.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Qwen3Config } from '../../engine/config.ts';
import { encodeSequences, padsAtEnd } from '../../engine/batch.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import { Device } from '../../engine/runtime/device.ts';
import type { Weights } from '../../engine/tensors.ts';
import { prng } from '../support/prng.ts';

const base: Qwen3Config = {
  hiddenSize: 24, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 8, intermediateSize: 40,
  vocabSize: 48, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 64,
};

/** Right-padded rows of different lengths, with a GRPO-style loss mask over the second half of each row. */
function batch(cfg: Qwen3Config, seed: number): TrainMicroBatch {
  const next = prng(seed);
  const lengths = [11, 6, 9];
  const ids = lengths.map((n) => Array.from({ length: n }, () => Math.floor(next() * cfg.vocabSize)));
  const per = (f: (t: number, n: number) => number) => lengths.map((n) => Array.from({ length: n }, (_, t) => f(t, n)));
  return {
    inputIds: ids,
    lossMask: per((t, n) => (t >= n / 2 && t < n - 1 ? 1 : 0)),
    oldLogp: per(() => -3 - next()),
    advantages: per((t) => (t % 2 ? 1 : -0.5) * (0.5 + next())),
  };
}

/** Every gradient within f32 tolerance of the reference (which must not be all zeros unless `zerosOk`). */
function assertClose(got: Weights, want: Weights, label: string, zerosOk = false): void {
  for (const [name, w] of want) {
    const g = got.get(name)!;
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < w.data.length; i++) {
      diff = Math.max(diff, Math.abs(w.data[i] - g.data[i]));
      scale = Math.max(scale, Math.abs(w.data[i]));
    }
    assert.ok(zerosOk || scale > 0, `${label} ${name}: the reference gradient is all zeros`);
    assert.ok(diff <= 1e-4 * scale + 1e-7, `${label} ${name}: max diff ${diff} vs max magnitude ${scale}`);
  }
}

for (const [label, cfg] of [
  ['grouped (4 query heads on 2 kv heads, head_dim != hidden/heads)', base],
  ['multi-head (untied head)', { ...base, numKeyValueHeads: 4, tieWordEmbeddings: false }],
] as const) {
  test(`fused causal attention equals the explicit masked form: ${label}`, async () => {
    const device = new Device({ threads: 1 });
    const weights = initWeights(cfg, 3);
    const fused = await Learner.create(cfg, weights, { device });
    const masked = await Learner.create(cfg, weights, { device, attention: 'masked' });
    const recompute = await Learner.create(cfg, weights, { device, attentionMemory: 1, attention: 'whole-layer' });
    try {
      const micro = batch(cfg, 7);
      assert.equal(fused.attentionFor(micro), 'causal');
      assert.equal(masked.attentionFor(micro), 'masked');
      assert.equal(recompute.attentionFor(micro), 'causal-recompute');
      assert.equal(recompute.attentionFor(micro, 'score'), 'causal', 'a scoring pass keeps nothing for a backward');
      const [a, b] = [await fused.logProbs(micro), await masked.logProbs(micro)];
      micro.inputIds.forEach((row, r) =>
        row.forEach((_, t) => {
          assert.ok(Math.abs(a.logp[r][t] - b.logp[r][t]) < 2e-5, `logp[${r}][${t}]: ${a.logp[r][t]} vs ${b.logp[r][t]}`);
          assert.ok(Math.abs(a.entropy[r][t] - b.entropy[r][t]) < 2e-5, `entropy[${r}][${t}]`);
        }),
      );
      for (const loss of [{ kind: 'sft' as const }, { kind: 'grpo' as const, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 }]) {
        const [x, y] = [await fused.gradients([micro], loss), await masked.gradients([micro], loss)];
        assert.ok(Math.abs(x.metrics.loss - y.metrics.loss) <= 1e-5 * Math.abs(y.metrics.loss), `${loss.kind} loss ${x.metrics.loss} vs ${y.metrics.loss}`);
        assertClose(x.grads, y.grads, loss.kind);
        // Recomputing the probabilities in the backward gives the same gradients (onnxruntime's kernel takes
        // another code path when it is not asked for them, so equal up to float rounding, not bit for bit).
        const z = await recompute.gradients([micro], loss);
        assert.ok(Math.abs(z.metrics.loss - y.metrics.loss) <= 1e-5 * Math.abs(y.metrics.loss), `${loss.kind} loss with recomputed probabilities`);
        assertClose(z.grads, y.grads, `${loss.kind} (recomputed probabilities)`);
      }
    } finally {
      await fused.close();
      await masked.close();
      await recompute.close();
      await device.close();
    }
  });
}

test('the fused kernel runs only where it is exact: float32 batches padded at the end', async () => {
  const right = { inputIds: [[1, 2, 3], [4, 5, 0]], attentionMask: [[1, 1, 1], [1, 1, 0]] };
  const left = { inputIds: [[1, 2, 3], [0, 4, 5]], attentionMask: [[1, 1, 1], [0, 1, 1]] };
  const hole = { inputIds: [[1, 2, 3]], attentionMask: [[1, 0, 1]] };
  assert.equal(padsAtEnd(encodeSequences(right)), true);
  assert.equal(padsAtEnd(encodeSequences({ inputIds: [[1, 2, 3, 4], [5]] })), true, 'rows of different lengths are padded at the end');
  assert.equal(padsAtEnd(encodeSequences(left)), false);
  assert.equal(padsAtEnd(encodeSequences(hole)), false);
  const weights = initWeights(base, 1);
  const f32 = await Learner.create(base, weights, { deviceOptions: { threads: 1 } });
  const f64 = await Learner.create(base, weights, { deviceOptions: { threads: 1 }, dtype: 'float64' });
  try {
    assert.equal(f32.attentionFor(right), 'causal');
    assert.equal(f32.attentionFor(left), 'masked');
    assert.equal(f32.attentionFor(hole), 'masked');
    assert.equal(f64.attentionFor(right), 'masked', 'onnxruntime has no float64 kernel');
  } finally {
    await f32.close();
    await f64.close();
  }
});

test('fused and explicit agree on edge shapes: one-token rows, an empty row', async () => {
  const device = new Device({ threads: 1 });
  const weights = initWeights(base, 3);
  const fused = await Learner.create(base, weights, { device });
  const masked = await Learner.create(base, weights, { device, attention: 'masked' });
  try {
    for (const inputIds of [[[5], [7]], [[5, 6, 7], []]]) {
      const micro = { inputIds, lossMask: inputIds.map((r) => r.map(() => 1)) };
      assert.equal(fused.attentionFor(micro), 'causal');
      const [a, b] = [await fused.logProbs(micro), await masked.logProbs(micro)];
      assert.deepEqual(a.logp.map((r) => r.length), inputIds.map((r) => r.length));
      a.logp.forEach((row, r) => row.forEach((v, t) => assert.ok(Math.abs(v - b.logp[r][t]) < 2e-5, `${JSON.stringify(inputIds)} logp[${r}][${t}]`)));
      const [x, y] = [await fused.gradients([micro], { kind: 'sft' }), await masked.gradients([micro], { kind: 'sft' })];
      assert.ok(Number.isFinite(x.metrics.loss) && Math.abs(x.metrics.loss - y.metrics.loss) < 1e-5, `${JSON.stringify(inputIds)} loss ${x.metrics.loss} vs ${y.metrics.loss}`);
      // With one key per query, attention ignores q and k: their gradients are zeros on both sides.
      assertClose(x.grads, y.grads, JSON.stringify(inputIds), true);
    }
  } finally {
    await fused.close();
    await masked.close();
    await device.close();
  }
});

for (const [label, cfg] of [
  ['grouped', base],
  ['multi-head, untied', { ...base, numKeyValueHeads: 4, tieWordEmbeddings: false }],
] as const) {
  test(`long rows run in query blocks (one row at a time), equal to the explicit form (${label})`, async () => {
    const device = new Device({ threads: 1 });
    const weights = initWeights(cfg, 5);
    const next = prng(11);
    const ids = [Array.from({ length: 11 }, () => Math.floor(next() * cfg.vocabSize))];
    const micro: TrainMicroBatch = {
      inputIds: ids,
      lossMask: [ids[0].map((_, t) => (t >= 3 && t < 10 ? 1 : 0))],
      oldLogp: [ids[0].map(() => -3 - next())],
      advantages: [ids[0].map((_, t) => (t % 2 ? 1 : -0.5))],
    };
    // One layer's probabilities for 1 row x 4 heads x 11^2 tokens are 1,936 bytes: a budget of 1,000 gives 2
    // blocks (5 and 6 queries), 300 gives 8 (one or two queries each).
    const masked = await Learner.create(cfg, weights, { device, attention: 'masked' });
    const learners = [await Learner.create(cfg, weights, { device, attentionMemory: 1000 }), await Learner.create(cfg, weights, { device, attentionMemory: 300 })];
    try {
      assert.deepEqual(learners.map((l) => l.attentionFor(micro)), ['causal-blocked-2', 'causal-blocked-8']);
      assert.deepEqual(learners.map((l) => l.attentionFor(micro, 'score')), ['causal-blocked-2', 'causal-blocked-8']);
      const want = await masked.logProbs(micro);
      for (const l of learners) {
        const got = await l.logProbs(micro);
        got.logp[0].forEach((v, t) => assert.ok(Math.abs(v - want.logp[0][t]) < 2e-5, `${l.attentionFor(micro)} logp[${t}]: ${v} vs ${want.logp[0][t]}`));
        for (const loss of [{ kind: 'sft' as const }, { kind: 'grpo' as const, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 }]) {
          const [x, y] = [await l.gradients([micro], loss), await masked.gradients([micro], loss)];
          assert.ok(Math.abs(x.metrics.loss - y.metrics.loss) <= 1e-5 * Math.abs(y.metrics.loss), `${loss.kind} loss ${x.metrics.loss} vs ${y.metrics.loss}`);
          assertClose(x.grads, y.grads, `${l.attentionFor(micro)} ${loss.kind}`);
        }
      }
      // Several such rows run one by one, each in blocks (the kernel takes a past for one row only), with the
      // same log-probs, losses and gradients as the batch in one piece; an empty row scores nothing.
      const several = batch(cfg, 13);
      assert.equal(learners[1].attentionFor(several), 'causal-blocked-8');
      const scored = await learners[1].logProbs({ inputIds: [...several.inputIds, []] });
      const wantRows = await masked.logProbs(several);
      assert.deepEqual(scored.logp.map((r) => r.length), [11, 6, 9, 0]);
      wantRows.logp.forEach((row, r) => row.forEach((v, t) => assert.ok(Math.abs(v - scored.logp[r][t]) < 2e-5, `row ${r} logp[${t}]`)));
      const maskedRows = await learners[1].logProbs(several, { mask: several.lossMask });
      maskedRows.logp.forEach((row, r) => row.forEach((v, t) => assert.ok(several.lossMask[r][t] ? Math.abs(v - wantRows.logp[r][t]) < 2e-5 : Number.isNaN(v), `masked row ${r} logp[${t}]`)));
      for (const loss of [{ kind: 'sft' as const }, { kind: 'grpo' as const, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 }]) {
        const [x, y] = [await learners[1].gradients([several], loss), await masked.gradients([several], loss)];
        assert.ok(Math.abs(x.metrics.loss - y.metrics.loss) <= 1e-5 * Math.abs(y.metrics.loss), `row by row ${loss.kind} loss ${x.metrics.loss} vs ${y.metrics.loss}`);
        assertClose(x.grads, y.grads, `row by row ${loss.kind}`);
      }
      // A row of 768 tokens or more takes blocks of <= 256 queries under the default budget too (they are faster:
      // the scores above the diagonal are skipped), a shorter one the whole-layer kernel.
      const row = (n: number) => ({ inputIds: [Array.from({ length: n }, (_, t) => t % cfg.vocabSize)] });
      const rows = [row(700), row(768), row(1000), row(4096)];
      assert.deepEqual(rows.map((b) => masked.attentionFor(b)), ['masked', 'masked', 'masked', 'masked']);
      const auto = await Learner.create(cfg, weights, { device });
      assert.deepEqual(rows.map((b) => auto.attentionFor(b)), ['causal', 'causal-blocked-4', 'causal-blocked-4', 'causal-blocked-16']);
      const whole = await Learner.create(cfg, weights, { device, attention: 'whole-layer' });
      assert.deepEqual(rows.map((b) => whole.attentionFor(b)), ['causal', 'causal', 'causal', 'causal']);
      await auto.close();
      await whole.close();
    } finally {
      for (const l of [masked, ...learners]) await l.close();
      await device.close();
    }
  });
}
