// Engine benchmark: our SFT train step and KV-cached greedy decode against Hugging Face transformers on PyTorch
// CPU (bench/engine/torch_baseline.py), same configs, shapes and threads, in one invocation; plus the train step's
// achieved FLOP/s as a fraction of this machine's MatMul peak, measured with an ONNX MatMul in the same run.
//
//   node --import tsx bench/engine/run.ts [--threads 2] [--models tiny,qwen3-0.6b] [--train-steps 3] [--rounds 2] [--no-torch]
//
// The machines are shared and noisy, so ours and the baseline run alternately for `rounds` rounds and each side
// keeps its best round. Prints a table and one JSON line (also written to bench/out/engine.json).
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parseQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import { Sampler } from '../../engine/sampler.ts';
import { Device } from '../../engine/runtime/device.ts';
import { Graph } from '../../engine/graph/graph.ts';
import { matmul } from '../../engine/graph/ops/linalg.ts';
import { Rng } from '../../engine/rng.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const run = promisify(execFile);

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const threads = Number(flag('threads', '2'));
const models = flag('models', 'tiny,qwen3-0.6b').split(',');
const trainSteps = Number(flag('train-steps', '3'));
const rounds = Number(flag('rounds', '2'));
const withTorch = !process.argv.includes('--no-torch');

interface Workload {
  name: string;
  config: Qwen3Config;
  torchArgs: string[];
  batch: number;
  seq: number;
  promptLen: number;
  decodeTokens: number;
}

async function workloads(): Promise<Workload[]> {
  const tiny = parseQwen3Config(JSON.parse(await readFile(`${ROOT}recipes/models/tiny/config.json`, 'utf8')));
  const big: Qwen3Config = {
    hiddenSize: 1024, numHiddenLayers: 2, numAttentionHeads: 16, numKeyValueHeads: 8, headDim: 128, intermediateSize: 3072,
    vocabSize: 151936, ropeTheta: 1e6, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 40960,
  };
  const all: Workload[] = [
    { name: 'tiny', config: tiny, torchArgs: ['--model', 'tiny'], batch: 4, seq: 256, promptLen: 32, decodeTokens: 64 },
    { name: 'qwen3-0.6b', config: big, torchArgs: ['--model', 'qwen3-0.6b', '--layers', '2'], batch: 2, seq: 256, promptLen: 32, decodeTokens: 16 },
  ];
  return all.filter((w) => models.includes(w.name));
}

/** FLOPs of one train step as our graphs execute it: 3x the forward matmuls, full T x T attention matrices. */
function trainFlops(c: Qwen3Config, batch: number, seq: number): number {
  const h = c.hiddenSize;
  const perLayer = h * c.numAttentionHeads * c.headDim * 2 + h * c.numKeyValueHeads * c.headDim * 2 + 3 * h * c.intermediateSize;
  const tokens = batch * seq;
  const dense = 2 * tokens * (c.numHiddenLayers * perLayer + h * c.vocabSize);
  const attention = c.numHiddenLayers * batch * 2 * 2 * seq * seq * c.numAttentionHeads * c.headDim;
  return 3 * (dense + attention);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** GFLOP/s of an n x n x n f32 ONNX MatMul (best of several runs). */
async function matmulPeak(device: Device, n = 2048): Promise<number> {
  const g = new Graph('float32');
  g.output(matmul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n])), 'c');
  const session = await device.load(g.toModel());
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  await device.put('peak/a', { dtype: 'float32', shape: [n, n], data });
  await device.put('peak/b', { dtype: 'float32', shape: [n, n], data });
  let best = Infinity;
  for (let i = 0; i < 6; i++) {
    const t = performance.now();
    await device.run(session, { a: 'peak/a', b: 'peak/b' }, { c: 'peak/c' });
    best = Math.min(best, performance.now() - t);
  }
  await device.drop(['peak/a', 'peak/b', 'peak/c']);
  await device.release(session);
  return (2 * n ** 3) / (best / 1000) / 1e9;
}

function sftBatch(c: Qwen3Config, batch: number, seq: number): TrainMicroBatch {
  const rng = Rng.fromSeed(0, 'bench batch');
  const inputIds = Array.from({ length: batch }, () => Array.from({ length: seq }, () => rng.int(c.vocabSize)));
  // As the baseline: the first quarter of each row is "prompt" (no loss), and the last position has no target.
  const lossMask = inputIds.map((row) => row.map((_, t) => (t >= Math.floor(seq / 4) && t < seq - 1 ? 1 : 0)));
  return { inputIds, lossMask };
}

async function ours(w: Workload, device: Device) {
  const learner = await Learner.create(w.config, initWeights(w.config, 0), { device, optimizer: { beta1: 0.9, beta2: 0.95, weightDecay: 0.01, maxGradNorm: 1 } });
  const micro = sftBatch(w.config, w.batch, w.seq);
  await learner.trainStep([micro], { kind: 'sft' }, 1e-5); // warm-up: session build, allocator, moments
  const steps: number[] = [];
  for (let i = 0; i < trainSteps; i++) {
    const t = performance.now();
    await learner.trainStep([micro], { kind: 'sft' }, 1e-5);
    steps.push((performance.now() - t) / 1000);
  }
  const sampler = await Sampler.create(w.config, { device, prefix: learner.prefix });
  const rng = Rng.fromSeed(0, 'bench prompt');
  const prompt = Array.from({ length: w.promptLen }, () => rng.int(w.config.vocabSize));
  const decodeOnce = async () => {
    const stamps: number[] = [];
    sampler.onStep = () => stamps.push(performance.now());
    const t0 = performance.now();
    const [gen] = await sampler.generate([prompt], { temperature: 0, maxNewTokens: w.decodeTokens, seed: 0 });
    await sampler.release([gen.seqId]);
    return { prefill: (stamps[0] - t0) / 1000, perToken: stamps.slice(1).map((s, i) => (s - stamps[i]) / 1000) };
  };
  await decodeOnce(); // warm-up
  const dec = await decodeOnce();
  await sampler.close();
  await learner.close();
  const med = median(steps);
  const tokenS = median(dec.perToken);
  return {
    train: { step_s: steps, median_step_s: med, tokens_per_s: (w.batch * w.seq) / med },
    decode: { prefill_s: dec.prefill, median_token_s: tokenS, tokens_per_s: 1 / tokenS, mean_tokens_per_s: dec.perToken.length / dec.perToken.reduce((a, b) => a + b, 0) },
  };
}

async function torch(w: Workload) {
  const args = [`${ROOT}bench/engine/torch_baseline.py`, ...w.torchArgs, '--threads', String(threads), '--batch', String(w.batch), '--seq', String(w.seq),
    '--train-steps', String(trainSteps), '--prompt-len', String(w.promptLen), '--decode-tokens', String(w.decodeTokens)];
  const { stdout } = await run(`${ROOT}.tools/py/bin/python`, args, { maxBuffer: 1 << 24 });
  return JSON.parse(stdout) as { train: { tokens_per_s: number; median_step_s: number }; decode: { tokens_per_s: number; mean_tokens_per_s: number } };
}

const device = new Device({ threads });
const peakBefore = await matmulPeak(device);
type Ours = Awaited<ReturnType<typeof ours>>;
type Torch = Awaited<ReturnType<typeof torch>>;
/** The round with the best train throughput and the round with the best decode throughput, merged. */
function best<T extends { train: { tokens_per_s: number }; decode: { tokens_per_s: number } }>(all: T[]): T {
  const train = all.reduce((a, b) => (b.train.tokens_per_s > a.train.tokens_per_s ? b : a));
  const decode = all.reduce((a, b) => (b.decode.tokens_per_s > a.decode.tokens_per_s ? b : a));
  return { ...train, decode: decode.decode };
}
const results = [];
for (const w of await workloads()) {
  const o: Ours[] = [];
  const t: Torch[] = [];
  for (let r = 0; r < rounds; r++) {
    o.push(await ours(w, device));
    if (withTorch) t.push(await torch(w));
  }
  const flops = trainFlops(w.config, w.batch, w.seq);
  results.push({ workload: w.name, batch: w.batch, seq: w.seq, decode_tokens: w.decodeTokens, train_gflop: flops / 1e9, ours: best(o), torch: withTorch ? best(t) : null, flops, rounds: { ours: o, torch: t } });
}
const peakAfter = await matmulPeak(device);
await device.close();
const peak = Math.max(peakBefore, peakAfter);

console.log(`threads ${threads}; ONNX MatMul peak ${peak.toFixed(1)} GFLOP/s (before ${peakBefore.toFixed(1)}, after ${peakAfter.toFixed(1)})`);
console.log('| workload | train tok/s ours | torch | ratio | MFU ours | MFU torch | decode tok/s ours | torch | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
const rows = results.map((r) => {
  const mfu = (tps: number) => (tps * (r.flops / (r.batch * r.seq))) / (peak * 1e9);
  const row = {
    workload: `${r.workload} (${r.batch}x${r.seq}, decode ${r.decode_tokens})`,
    train_ours: r.ours.train.tokens_per_s,
    train_torch: r.torch?.train.tokens_per_s ?? null,
    train_ratio: r.torch ? r.ours.train.tokens_per_s / r.torch.train.tokens_per_s : null,
    mfu_ours: mfu(r.ours.train.tokens_per_s),
    mfu_torch: r.torch ? mfu(r.torch.train.tokens_per_s) : null,
    decode_ours: r.ours.decode.tokens_per_s,
    decode_torch: r.torch?.decode.tokens_per_s ?? null,
    decode_ratio: r.torch ? r.ours.decode.tokens_per_s / r.torch.decode.tokens_per_s : null,
  };
  const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
  console.log(`| ${row.workload} | ${f(row.train_ours)} | ${f(row.train_torch)} | ${f(row.train_ratio, 2)} | ${f(row.mfu_ours * 100, 0)}% | ${row.mfu_torch === null ? '-' : `${(row.mfu_torch * 100).toFixed(0)}%`} | ${f(row.decode_ours)} | ${f(row.decode_torch)} | ${f(row.decode_ratio, 2)} |`);
  return row;
});
const report = { threads, peak_gflops: peak, peak_before: peakBefore, peak_after: peakAfter, rows, raw: results };
await mkdir(`${ROOT}bench/out`, { recursive: true });
await writeFile(`${ROOT}bench/out/engine.json`, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
