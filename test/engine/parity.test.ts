// Parity with Hugging Face transformers' Qwen3ForCausalLM on the committed fixtures (test/fixtures/engine/README.md):
// logits (Learner.logits), log-probs, entropy, the SFT and GRPO losses and every parameter gradient, in float32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { readQwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { Learner } from '../../engine/learner.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';
import type { Weights } from '../../engine/tensors.ts';

const FIXTURES = new URL('../fixtures/engine/', import.meta.url).pathname;

interface Inputs {
  input_ids: number[][];
  attention_mask: number[][];
  targets: number[][];
  loss_mask: number[][];
  old_logp: number[][];
  advantages: number[][];
  eps_low: number;
  eps_high: number;
  dual_clip_c: number;
  log_ratio_clamp: number;
}

async function loadCase(name: string) {
  const dir = `${FIXTURES}${name}/`;
  const { config } = await readQwen3Config(`${dir}config.json`);
  const weights: Weights = (await readSafetensors(`${dir}model.safetensors`)).tensors;
  const inputs = JSON.parse(await readFile(`${dir}inputs.json`, 'utf8')) as Inputs;
  const outputs = (await readSafetensors(`${dir}outputs.safetensors`)).tensors;
  const expected = JSON.parse(await readFile(`${dir}expected.json`, 'utf8')) as { sft_loss: number; grpo_loss: number };
  const grads = { sft: (await readSafetensors(`${dir}grads_sft.safetensors`)).tensors, grpo: (await readSafetensors(`${dir}grads_grpo.safetensors`)).tensors };
  return { config, weights, inputs, outputs, expected, grads };
}

/** Max |a - b| over positions where mask is 1 (per row of `width` values). */
function maxDiffMasked(a: ArrayLike<number>, b: ArrayLike<number>, mask: number[][], width: number): number {
  let worst = 0;
  const cols = mask[0].length;
  mask.forEach((row, r) =>
    row.forEach((m, c) => {
      if (!m) return;
      for (let k = 0; k < width; k++) worst = Math.max(worst, Math.abs(a[(r * cols + c) * width + k] - b[(r * cols + c) * width + k]));
    }),
  );
  return worst;
}

function assertGradsClose(got: Weights, want: Weights, label: string): void {
  for (const [name, w] of want) {
    const gt = got.get(name);
    assert.ok(gt, `${label}: no gradient for ${name}`);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < w.data.length; i++) {
      scale = Math.max(scale, Math.abs(w.data[i]));
      diff = Math.max(diff, Math.abs(w.data[i] - gt.data[i]));
    }
    assert.ok(diff <= 1e-4 * scale + 1e-7, `${label} ${name}: max diff ${diff} vs max magnitude ${scale}`);
  }
}

for (const name of ['qwen3_tied', 'qwen3_untied']) {
  test(`parity with HF Qwen3 (${name}): logits, log-probs, entropy, losses and gradients`, async () => {
    const f = await loadCase(name);
    const positions = f.inputs.input_ids.map((row) => row.map((_, t) => t));
    const seq = { inputIds: f.inputs.input_ids, attentionMask: f.inputs.attention_mask, positionIds: positions, targets: f.inputs.targets };
    const learner = await Learner.create(f.config, f.weights, { deviceOptions: { threads: 1 } });
    try {
      // Logits (the learner's logits API).
      const logits = await learner.logits(seq);
      const v = f.config.vocabSize;
      assert.deepEqual(logits.shape, [4, 10, v]);
      assert.ok(logits.data instanceof Float32Array);
      const dLogits = maxDiffMasked(logits.data, f.outputs.get('logits')!.data, f.inputs.attention_mask, v);
      assert.ok(dLogits < 2e-5, `logits differ by ${dLogits}`);

      // Log-probs and entropy.
      const { logp, entropy } = await learner.logProbs(seq);
      assert.ok(maxDiffMasked(logp.flat(), f.outputs.get('logp')!.data, f.inputs.attention_mask, 1) < 2e-5, 'logp');
      assert.ok(maxDiffMasked(entropy.flat(), f.outputs.get('entropy')!.data, f.inputs.attention_mask, 1) < 2e-5, 'entropy');

      // Losses and gradients.
      const micro: TrainMicroBatch = { ...seq, lossMask: f.inputs.loss_mask, oldLogp: f.inputs.old_logp, advantages: f.inputs.advantages };
      const sft = await learner.gradients([micro], { kind: 'sft' });
      assert.ok(Math.abs(sft.metrics.loss - f.expected.sft_loss) <= 1e-5 * Math.abs(f.expected.sft_loss), `sft loss ${sft.metrics.loss} vs ${f.expected.sft_loss}`);
      assertGradsClose(sft.grads, f.grads.sft, 'sft');
      const grpoSpec = { kind: 'grpo' as const, epsLow: f.inputs.eps_low, epsHigh: f.inputs.eps_high, dualClipC: f.inputs.dual_clip_c, logRatioClamp: f.inputs.log_ratio_clamp };
      const grpo = await learner.gradients([micro], grpoSpec);
      assert.ok(Math.abs(grpo.metrics.loss - f.expected.grpo_loss) <= 1e-5 * Math.abs(f.expected.grpo_loss), `grpo loss ${grpo.metrics.loss} vs ${f.expected.grpo_loss}`);
      assertGradsClose(grpo.grads, f.grads.grpo, 'grpo');

      // Splitting the rows into micro-batches gives the same mini-batch gradient (accumulation is exact).
      const half = (m: TrainMicroBatch, a: number, b: number): TrainMicroBatch => ({
        inputIds: m.inputIds.slice(a, b), attentionMask: m.attentionMask!.slice(a, b), positionIds: m.positionIds!.slice(a, b), targets: m.targets!.slice(a, b),
        lossMask: m.lossMask.slice(a, b), oldLogp: m.oldLogp!.slice(a, b), advantages: m.advantages!.slice(a, b),
      });
      const split = await learner.gradients([half(micro, 0, 1), half(micro, 1, 4)], grpoSpec);
      assert.ok(Math.abs(split.metrics.loss - f.expected.grpo_loss) <= 1e-5 * Math.abs(f.expected.grpo_loss), `accumulated grpo loss ${split.metrics.loss}`);
      assertGradsClose(split.grads, f.grads.grpo, 'grpo (2 micro-batches)');

      // The global gradient norm the optimizer clips by (one and two micro-batches; lr 0 leaves the weights).
      let want = 0;
      for (const t of f.grads.grpo.values()) for (const x of t.data) want += x * x;
      for (const parts of [[micro], [half(micro, 0, 3), half(micro, 3, 4)]]) {
        const { gradNorm } = await learner.trainStep(parts, grpoSpec, 0);
        assert.ok(Math.abs(gradNorm - Math.sqrt(want)) <= 1e-4 * Math.sqrt(want), `grad norm ${gradNorm} vs ${Math.sqrt(want)}`);
      }
    } finally {
      await learner.close();
    }
  });
}
