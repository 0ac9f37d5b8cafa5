// Padding: a sequence scores the same alone, left-padded and right-padded in one batch (attention_mask input,
// position ids from the mask), and the pads get no gradient; a scoring mask scores only its positions; token ids
// outside the vocabulary are refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { Learner } from '../../engine/learner.ts';

const DIR = new URL('../fixtures/engine/qwen3_tied/', import.meta.url).pathname;

/** Runs `fn` with a learner on the tied fixture model (one thread), closed afterwards. */
async function withLearner(fn: (learner: Learner, config: Qwen3Config) => Promise<void>): Promise<void> {
  const { config } = await readQwen3Config(`${DIR}config.json`);
  const weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  const learner = await Learner.create(config, weights, { deviceOptions: { threads: 1 } });
  try {
    await fn(learner, config);
  } finally {
    await learner.close();
  }
}

test('left and right padding give the unpadded log-probs, entropies and loss', () =>
  withLearner(async (learner) => {
    const seq = [5, 17, 42, 8, 23, 61];
    const n = seq.length;
    const batch = {
      inputIds: [seq, [0, 0, 0, ...seq], [...seq, 0, 0]],
      attentionMask: [seq.map(() => 1), [0, 0, 0, ...seq.map(() => 1)], [...seq.map(() => 1), 0, 0]],
    };
    const { logp, entropy } = await learner.logProbs(batch);
    for (let t = 0; t < n - 1; t++) {
      assert.ok(Math.abs(logp[1][t + 3] - logp[0][t]) < 1e-5, `left-padded logp[${t}]: ${logp[1][t + 3]} vs ${logp[0][t]}`);
      assert.ok(Math.abs(logp[2][t] - logp[0][t]) < 1e-5, `right-padded logp[${t}]`);
      assert.ok(Math.abs(entropy[1][t + 3] - entropy[0][t]) < 1e-5, `left-padded entropy[${t}]`);
    }
    // The same loss (and so the same gradient norm) alone and padded among others.
    const lossMask = (pad: number, left: boolean) => {
      const real = seq.map((_, t) => (t < n - 1 ? 1 : 0));
      const zeros = new Array<number>(pad).fill(0);
      return left ? [...zeros, ...real] : [...real, ...zeros];
    };
    const alone = await learner.gradients([{ inputIds: [seq], lossMask: [lossMask(0, true)] }], { kind: 'sft' });
    const padded = await learner.gradients([{ ...batch, inputIds: batch.inputIds.slice(1), attentionMask: batch.attentionMask.slice(1), lossMask: [lossMask(3, true), lossMask(2, false)] }], { kind: 'sft' });
    assert.ok(Math.abs(alone.metrics.loss - padded.metrics.loss) < 1e-5, `loss ${alone.metrics.loss} vs ${padded.metrics.loss}`);
    for (const [name, t] of alone.grads) {
      const p = padded.grads.get(name)!;
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < t.data.length; i++) {
        diff = Math.max(diff, Math.abs(t.data[i] - p.data[i]));
        scale = Math.max(scale, Math.abs(t.data[i]));
      }
      assert.ok(diff <= 1e-4 * scale + 1e-7, `${name}: ${diff} vs ${scale}`);
    }
  }));

test('a scoring mask scores only its positions (the same values as a full pass, NaN elsewhere)', () =>
  withLearner(async (learner) => {
    const batch = { inputIds: [[5, 17, 42, 8, 23, 61], [9, 3, 30]] };
    const full = await learner.logProbs(batch);
    const mask = [[0, 0, 1, 1, 0, 1], [1, 0, 0]];
    const part = await learner.logProbs(batch, { mask });
    mask.forEach((row, r) =>
      row.forEach((m, t) => {
        for (const k of ['logp', 'entropy'] as const) {
          if (m) assert.ok(Math.abs(part[k][r][t] - full[k][r][t]) < 1e-6, `${k}[${r}][${t}]: ${part[k][r][t]} vs ${full[k][r][t]}`);
          else assert.ok(Number.isNaN(part[k][r][t]), `${k}[${r}][${t}] is not scored`);
        }
      }),
    );
    const none = await learner.logProbs(batch, { mask: mask.map((row) => row.map(() => 0)) });
    assert.ok(none.logp.flat().every(Number.isNaN));
    await assert.rejects(learner.logProbs(batch, { mask: [[1, 1]] }), /batch: mask has 1 rows, expected 2/);
  }));

test('token ids outside the vocabulary are refused before anything runs, naming the field, row and column', () =>
  withLearner(async (learner, config) => {
    await assert.rejects(learner.logProbs({ inputIds: [[1, 2, -1]] }), /inputIds\[0\]\[2\] is -1, not a token id/);
    const micro = { inputIds: [[1, 2, 3]], targets: [[2, 3, config.vocabSize]], lossMask: [[1, 1, 1]] };
    await assert.rejects(learner.trainStep([micro], { kind: 'sft' }, 1e-3), new RegExp(`targets\\[0\\]\\[2\\] is ${config.vocabSize}`));
    assert.equal(learner.step, 0, 'nothing was updated');
    const grpo = { kind: 'grpo' as const, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3 };
    const nan = { inputIds: [[1, 2, 3]], lossMask: [[0, 1, 1]], oldLogp: [[0, -1, -1]], advantages: [[0, 1, NaN]] };
    await assert.rejects(learner.trainStep([nan], grpo, 1e-3), /advantages\[0\]\[2\] is NaN at a trained position/);
    // Where no loss reads a target, any value is fine there (HF's -100, for one).
    const ignored = await learner.trainStep([{ ...micro, targets: [[2, 3, -100]], lossMask: [[1, 1, 0]] }], { kind: 'sft' }, 1e-3);
    assert.equal(ignored.lossTokens, 2);
  }));
