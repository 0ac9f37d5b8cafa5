// Finite-difference check (float64) of the whole model's gradient, for the SFT and the GRPO loss, on tiny configs
// with GQA ratio > 1 and head_dim != hidden / heads, tied and untied heads, and a right-padded row.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Qwen3Config } from '../../engine/config.ts';
import { qwen3ParamShapes } from '../../engine/config.ts';
import { Device } from '../../engine/runtime/device.ts';
import type { DeviceTensor } from '../../engine/runtime/device.ts';
import { GRAD_PREFIX, ROWS_PREFIX, ROW_INDEX_PREFIX, gradProgram, logProbsProgram } from '../../engine/programs.ts';
import { encodeScoring, encodeTrain, unpackScored } from '../../engine/batch.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';
import { Rng } from '../../engine/rng.ts';

let device: Device;
before(() => {
  device = new Device({ threads: 1 });
});
after(() => device.close());

const base: Qwen3Config = {
  hiddenSize: 12, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 6, intermediateSize: 20,
  vocabSize: 32, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 64,
};

function randomWeights(cfg: Qwen3Config, seed: number): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [name, shape] of qwen3ParamShapes(cfg)) {
    const rng = Rng.fromSeed(seed, name);
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(name, Float64Array.from({ length: n }, () => (shape.length === 1 ? 1 + 0.1 * rng.normal() : 0.4 * rng.normal())));
  }
  return out;
}

const batch: TrainMicroBatch = {
  inputIds: [[3, 7, 1, 30, 12, 5, 9], [4, 4, 18, 2]],
  lossMask: [[0, 1, 1, 1, 1, 1, 0], [0, 1, 1, 0]],
};

async function checkModel(cfg: Qwen3Config, kind: 'sft' | 'grpo'): Promise<void> {
  const weights = randomWeights(cfg, 3);
  const shapes = qwen3ParamShapes(cfg);
  const wFeeds = (w: Map<string, Float64Array>) => Object.fromEntries([...w].map(([n, d]) => [n, { dtype: 'float64', shape: shapes.get(n)!, data: d } as DeviceTensor]));
  const micro: TrainMicroBatch = { ...batch };
  if (kind === 'grpo') {
    // old log-probs = current ones minus deltas kept well away from the clip edges (1 - 0.2, 1 + 0.28, c = 3).
    const lp = await device.load(logProbsProgram(cfg, 'float64').bytes, 'float64');
    const enc = encodeScoring(micro);
    const { logp } = await device.run(lp, { ...wFeeds(weights), ...enc.feeds }, { logp: null });
    const deltas = [0.05, -0.9, 0.6, -0.05, 1.5, -2.0, 0.1];
    const current = unpackScored(logp.data as Float64Array, enc);
    micro.oldLogp = micro.inputIds.map((row, r) => row.map((_, t) => current[r][t] - deltas[(r * 3 + t) % deltas.length]));
    micro.advantages = micro.inputIds.map((row, r) => row.map((_, t) => (r === 0 ? (t % 2 ? 0.8 : -1.2) : -0.5)));
  }
  const session = await device.load(gradProgram(cfg, 'float64', kind).bytes, 'float64');
  const enc = encodeTrain(micro, 'float64', kind === 'grpo');
  const scalar = (v: number): DeviceTensor => ({ dtype: 'float64', shape: [], data: Float64Array.of(v) });
  const knobs: Record<string, DeviceTensor> = kind === 'grpo' ? { eps_low: scalar(0.2), eps_high: scalar(0.28), dual_clip_c: scalar(3), log_ratio_clamp: scalar(20) } : {};
  const feeds = (w: Map<string, Float64Array>): Record<string, DeviceTensor> => ({ ...wFeeds(w), ...enc.feeds, loss_scale: scalar(1 / enc.lossTokens), ...knobs });
  const out = await device.run(session, feeds(weights), Object.fromEntries(session.outputs.filter((o) => !o.startsWith('metric:')).map((o) => [o, null])));
  // Full gradients: the dense part (absent for an untied embedding) plus the scattered embedding rows.
  const analytic: Record<string, Float64Array> = {};
  for (const [name, shape] of shapes) {
    const full = (out[GRAD_PREFIX + name]?.data as Float64Array | undefined)?.slice() ?? new Float64Array(shape.reduce((a, b) => a * b, 1));
    const rows = out[ROWS_PREFIX + name];
    if (rows) {
      const idx = out[ROW_INDEX_PREFIX + name].data as BigInt64Array;
      const w = shape[1];
      idx.forEach((r, i) => {
        for (let k = 0; k < w; k++) full[Number(r) * w + k] += rows.data[i * w + k] as number;
      });
    }
    analytic[name] = full;
  }
  const lossAt = async (w: Map<string, Float64Array>) => (await device.run(session, feeds(w), { 'metric:loss': null }))['metric:loss'].data[0] as number;

  const eps = 1e-6;
  const perturbed = (name: string, k: number, d: number) => {
    const w = new Map(weights);
    const copy = weights.get(name)!.slice();
    copy[k] += d;
    w.set(name, copy);
    return w;
  };
  // A spread of single coordinates of every parameter.
  for (const [name, data] of weights) {
    const ga = analytic[name];
    const step = Math.max(1, Math.floor(data.length / 5));
    for (let k = 0; k < data.length; k += step) {
      const numeric = ((await lossAt(perturbed(name, k, eps))) - (await lossAt(perturbed(name, k, -eps)))) / (2 * eps);
      assert.ok(Math.abs(ga[k] - numeric) <= 1e-7 + 1e-5 * Math.abs(numeric), `${kind} ${name}[${k}]: analytic ${ga[k]} vs numeric ${numeric}`);
    }
  }
  // And one random direction through every parameter at once.
  const rng = Rng.fromSeed(5, 'direction');
  const dir = new Map([...weights].map(([n, d]) => [n, Float64Array.from(d, () => rng.normal())]));
  const along = (s: number) => new Map([...weights].map(([n, d]) => [n, Float64Array.from(d, (x, i) => x + s * dir.get(n)![i])]));
  const numeric = ((await lossAt(along(eps))) - (await lossAt(along(-eps)))) / (2 * eps);
  let dot = 0;
  for (const [n, d] of dir) {
    const ga = analytic[n];
    for (let i = 0; i < d.length; i++) dot += ga[i] * d[i];
  }
  assert.ok(Math.abs(dot - numeric) <= 1e-6 + 1e-5 * Math.abs(numeric), `${kind} directional: ${dot} vs ${numeric}`);
}

for (const tied of [true, false]) {
  for (const kind of ['sft', 'grpo'] as const) {
    test(`whole-model gradient, ${kind} loss, ${tied ? 'tied' : 'untied'} head (GQA 2, head_dim 6 != 12/4)`, async () => {
      await checkModel({ ...base, tieWordEmbeddings: tied, ropeTheta: tied ? 10000 : 1e6 }, kind);
    });
  }
}
