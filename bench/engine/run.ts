// Engine benchmark: our SFT train step, KV-cached greedy decode and prefill of fresh prompts against Hugging Face
// transformers on PyTorch CPU (bench/engine/torch_baseline.py), same configs, shapes and threads, in one
// invocation; plus the train step's achieved FLOP/s as a fraction of this machine's MatMul peak, measured with
// an ONNX MatMul in the same run.
//
//   node --import tsx bench/engine/run.ts [--threads 2] [--models tiny,qwen3-0.6b,qwen3-0.6b-1k] [--train-steps N] [--rounds 3] [--no-torch] [--default-malloc]
//
// The machines are shared and noisy: each of `rounds` rounds measures the peak, ours and the baseline back to back,
// ratios and MFU are taken within a round, and the median round is reported. Prints a table and one JSON line
// (also written to bench/out/engine.json).
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { parseQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import { Sampler } from '../../engine/sampler.ts';
import { Device } from '../../engine/runtime/device.ts';
import { DEVICE_MALLOC_TUNABLES, hasDeviceMalloc, withDeviceMalloc } from '../../engine/runtime/malloc.ts';
import { Graph } from '../../engine/graph/graph.ts';
import { matmul } from '../../engine/graph/ops/linalg.ts';
import { Rng } from '../../engine/rng.ts';
import type { TrainMicroBatch } from '../../engine/batch.ts';
import type { Weights } from '../../engine/tensors.ts';

const ROOT = new URL('../../', import.meta.url).pathname;

// We run under the device's malloc settings (engine/runtime/malloc.ts): this process re-executes itself with
// them. The PyTorch baseline runs twice per round: under the same settings (a tuned baseline: PyTorch's CPU
// guide recommends a caching allocator for the same reason) and under glibc's defaults (as it runs out of the
// box). `--default-malloc` runs everything under the defaults.
if (!process.argv.includes('--default-malloc') && !hasDeviceMalloc()) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: withDeviceMalloc() });
  process.exit(r.status ?? 1);
}
const run = promisify(execFile);

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const threads = Number(flag('threads', '2'));
const models = flag('models', 'tiny,qwen3-0.6b,qwen3-0.6b-1k').split(',');
// Timed train steps per round: a tiny step takes ~15 ms and a 0.6B-dims one seconds, so the tiny model gets more
// (a median over 5 steps of 15 ms swung with single hiccups). `--train-steps N` sets every workload's.
const trainStepsFlag = flag('train-steps', '');
const stepsFor = (w: Workload): number => (trainStepsFlag ? Number(trainStepsFlag) : w.trainSteps);
const rounds = Number(flag('rounds', '3'));
const withTorch = !process.argv.includes('--no-torch');

interface Workload {
  name: string;
  config: Qwen3Config;
  torchArgs: string[];
  batch: number;
  seq: number;
  promptLen: number;
  /** 0 = no decode measurement (a second train shape of the same model). */
  decodeTokens: number;
  /** Sequences decoded together (default 1; GRPO decodes a group of 8 per prompt). */
  decodeBatch?: number;
  /** Timed train steps per round (default for --train-steps). */
  trainSteps: number;
  /** Also time a prefill of `rows` fresh prompts of `tokens` tokens (ours fused and explicit, and PyTorch's). */
  prefill?: { rows: number; tokens: number };
}

async function workloads(): Promise<Workload[]> {
  const tiny = parseQwen3Config(JSON.parse(await readFile(`${ROOT}recipes/models/tiny/config.json`, 'utf8')));
  const big: Qwen3Config = {
    hiddenSize: 1024, numHiddenLayers: 2, numAttentionHeads: 16, numKeyValueHeads: 8, headDim: 128, intermediateSize: 3072,
    vocabSize: 151936, ropeTheta: 1e6, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 40960,
  };
  const all: Workload[] = [
    { name: 'tiny', config: tiny, torchArgs: ['--model', 'tiny'], batch: 4, seq: 256, promptLen: 32, decodeTokens: 64, trainSteps: 30, prefill: { rows: 8, tokens: 1024 } },
    { name: 'qwen3-0.6b', config: big, torchArgs: ['--model', 'qwen3-0.6b', '--layers', '2'], batch: 2, seq: 256, promptLen: 32, decodeTokens: 16, trainSteps: 5 },
    { name: 'qwen3-0.6b-1k', config: big, torchArgs: ['--model', 'qwen3-0.6b', '--layers', '2'], batch: 4, seq: 256, promptLen: 32, decodeTokens: 16, decodeBatch: 8, trainSteps: 5, prefill: { rows: 8, tokens: 512 } },
  ];
  return all.filter((w) => models.includes(w.name));
}

/** Loss tokens per row of sftBatch: positions seq/4 .. seq-2. */
function lossPerRow(seq: number): number {
  return seq - 1 - Math.floor(seq / 4);
}

/**
 * FLOPs of one train step as executed: 3x the forward matmuls, full T x T attention matrices, and the vocabulary
 * head at `headRows` positions (ours: the loss tokens only; PyTorch's: every token).
 */
function trainFlops(c: Qwen3Config, batch: number, seq: number, headRows = batch * lossPerRow(seq)): number {
  const h = c.hiddenSize;
  const perLayer = h * c.numAttentionHeads * c.headDim * 2 + h * c.numKeyValueHeads * c.headDim * 2 + 3 * h * c.intermediateSize;
  const tokens = batch * seq;
  const dense = 2 * tokens * c.numHiddenLayers * perLayer + 2 * headRows * h * c.vocabSize;
  const attention = c.numHiddenLayers * batch * 2 * 2 * seq * seq * c.numAttentionHeads * c.headDim;
  return 3 * (dense + attention);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** Measures the machine's f32 MatMul throughput (GFLOP/s) with an n x n x n ONNX MatMul, best of `runs`. */
async function matmulProbe(device: Device, n = 2048): Promise<(runs?: number) => Promise<number>> {
  const g = new Graph('float32');
  // Only a scalar comes out: a 16 MB output per probe would leave garbage that slows the next timed step.
  const c = matmul(g.input('a', 'float32', [n, n]), g.input('b', 'float32', [n, n]));
  g.output(g.apply1('ReduceMax', [c, g.ints([0, 1])], { keepdims: 0 }, { dtype: 'float32', shape: [] }), 'c');
  const session = await device.load(g.toModel());
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
  await device.put('peak/a', { dtype: 'float32', shape: [n, n], data });
  await device.put('peak/b', { dtype: 'float32', shape: [n, n], data });
  return async (runs = 3) => {
    let best = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      await device.run(session, { a: 'peak/a', b: 'peak/b' }, { c: null });
      best = Math.min(best, performance.now() - t);
    }
    return (2 * n ** 3) / (best / 1000) / 1e9;
  };
}

function sftBatch(c: Qwen3Config, batch: number, seq: number): TrainMicroBatch {
  const rng = Rng.fromSeed(0, 'bench batch');
  const inputIds = Array.from({ length: batch }, () => Array.from({ length: seq }, () => rng.int(c.vocabSize)));
  // As the baseline: the first quarter of each row is "prompt" (no loss), and the last position has no target.
  const lossMask = inputIds.map((row) => row.map((_, t) => (t >= Math.floor(seq / 4) && t < seq - 1 ? 1 : 0)));
  if (lossMask[0].reduce((a: number, b) => a + b, 0) !== lossPerRow(seq)) throw new Error('bench: loss mask and FLOP count disagree');
  return { inputIds, lossMask };
}

async function ours(w: Workload, device: Device, weights: Weights, peak: (runs?: number) => Promise<number>) {
  const learner = await Learner.create(w.config, weights, { device, optimizer: { beta1: 0.9, beta2: 0.95, weightDecay: 0.01, maxGradNorm: 1 } });
  const micro = sftBatch(w.config, w.batch, w.seq);
  await learner.trainStep([micro], { kind: 'sft' }, 1e-5); // warm-up: session build, allocator, moments
  // The peak is probed right before and right after the timed steps (not between them: a probe evicts the
  // caches and costs a tiny model's next step ~10 ms); MFU is the median step's FLOP/s over the better probe.
  const peaks = [await peak()];
  const steps: number[] = [];
  for (let i = 0; i < stepsFor(w); i++) {
    const t = performance.now();
    await learner.trainStep([micro], { kind: 'sft' }, 1e-5);
    steps.push((performance.now() - t) / 1000);
  }
  peaks.push(await peak());
  const flops = trainFlops(w.config, w.batch, w.seq);
  await learner.close();
  const med = median(steps);
  const train = { step_s: steps, median_step_s: med, tokens_per_s: (w.batch * w.seq) / med, peak_gflops: peaks, mfu: flops / med / (Math.max(...peaks) * 1e9) };
  return { train, decode: w.decodeTokens > 0 ? await oursDecode(w, device, weights) : null, prefill: w.prefill ? await oursPrefill(w, device, weights) : null };
}

/**
 * Seconds for one prefill of w.prefill's prompts, median of 3 after a warm-up: fused (default) and explicit; and
 * of a GRPO group, the first prompt `rows` times (our sampler prefills it once; PyTorch's generate with
 * num_return_sequences expands the prompt to every row first, so its prefill of `rows` prompts is the same work).
 */
async function oursPrefill(w: Workload, device: Device, weights: Weights) {
  const { rows, tokens } = w.prefill!;
  const rng = Rng.fromSeed(0, 'bench prefill');
  const distinct = Array.from({ length: rows }, () => Array.from({ length: tokens }, () => rng.int(w.config.vocabSize)));
  const time = async (attention: 'auto' | 'masked', prompts = distinct) => {
    const sampler = await Sampler.create(w.config, { device, weights, attention });
    const runs: number[] = [];
    // A prefill may be several program runs (long prompts go one by one): a generate's time is their sum.
    let total = 0;
    sampler.onStep = (info) => void (total += info.ms / 1000);
    for (let i = 0; i < 4; i++) {
      total = 0;
      const gens = await sampler.generate(prompts, { temperature: 0, maxNewTokens: 1, seed: 0 });
      runs.push(total);
      await sampler.release(gens.map((g) => g.seqId));
    }
    await sampler.close();
    return median(runs.slice(1));
  };
  return { fused_s: await time('auto'), explicit_s: await time('masked'), group_s: await time('auto', distinct.map(() => distinct[0])) };
}

async function oursDecode(w: Workload, device: Device, weights: Weights) {
  const sampler = await Sampler.create(w.config, { device, weights });
  const rng = Rng.fromSeed(0, 'bench prompt');
  const rows = w.decodeBatch ?? 1;
  const prompts = Array.from({ length: rows }, () => Array.from({ length: w.promptLen }, () => rng.int(w.config.vocabSize)));
  const decodeOnce = async () => {
    const stamps: number[] = [];
    sampler.onStep = () => stamps.push(performance.now());
    const t0 = performance.now();
    const gens = await sampler.generate(prompts, { temperature: 0, maxNewTokens: w.decodeTokens, seed: 0 });
    await sampler.release(gens.map((g) => g.seqId));
    return { prefill: (stamps[0] - t0) / 1000, perToken: stamps.slice(1).map((s, i) => (s - stamps[i]) / 1000) };
  };
  await decodeOnce(); // warm-up
  const dec = await decodeOnce();
  await sampler.close();
  const stepS = median(dec.perToken);
  return { prefill_s: dec.prefill, median_token_s: stepS, tokens_per_s: rows / stepS, mean_tokens_per_s: (rows * dec.perToken.length) / dec.perToken.reduce((a, b) => a + b, 0) };
}

/** The environment without our malloc settings. */
function defaultMalloc(): NodeJS.ProcessEnv {
  const kept = (process.env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t && !DEVICE_MALLOC_TUNABLES.includes(t));
  const { GLIBC_TUNABLES: _ours, ...env } = process.env;
  return kept.length ? { ...env, GLIBC_TUNABLES: kept.join(':') } : env;
}

async function torch(w: Workload, env: NodeJS.ProcessEnv = process.env) {
  const args = [`${ROOT}bench/engine/torch_baseline.py`, ...w.torchArgs, '--threads', String(threads), '--batch', String(w.batch), '--seq', String(w.seq),
    '--train-steps', String(stepsFor(w)), '--prompt-len', String(w.promptLen), ...(w.decodeTokens > 0 ? ['--decode-tokens', String(w.decodeTokens), '--decode-batch', String(w.decodeBatch ?? 1)] : ['--skip-decode']),
    ...(w.prefill ? ['--prefill-batch', String(w.prefill.rows), '--prefill-len', String(w.prefill.tokens)] : [])];
  const { stdout } = await run(`${ROOT}.tools/py/bin/python`, args, { maxBuffer: 1 << 24, env });
  return JSON.parse(stdout) as { train: { tokens_per_s: number; median_step_s: number }; decode?: { tokens_per_s: number; mean_tokens_per_s: number }; prefill?: { median_s: number } };
}

const device = new Device({ threads });
const peak = await matmulProbe(device);
type Ours = Awaited<ReturnType<typeof ours>>;
type Torch = Awaited<ReturnType<typeof torch>>;
interface Round {
  peak_gflops: number;
  ours: Ours;
  torch: Torch | null;
  /** The baseline under glibc's default malloc (only when ours runs under the device settings). */
  torchDefault: Torch | null;
}
const results: { workload: Workload; flops: number; rounds: Round[] }[] = [];
for (const w of await workloads()) {
  const weights = initWeights(w.config, 0);
  const rs: Round[] = [];
  // Each round measures ours, then the baseline, back to back: the host's load drifts over minutes, so ratios
  // are taken within a round and the median round is reported. Our MFU uses the peak probed around our steps;
  // the baseline's (context only) the round's best probe.
  for (let r = 0; r < rounds; r++) {
    const o = await ours(w, device, weights, peak);
    const t = withTorch ? await torch(w) : null;
    const td = withTorch && hasDeviceMalloc() ? await torch(w, defaultMalloc()) : null;
    rs.push({ peak_gflops: Math.max(...o.train.peak_gflops, await peak()), ours: o, torch: t, torchDefault: td });
  }
  results.push({ workload: w, flops: trainFlops(w.config, w.batch, w.seq), rounds: rs });
}
await device.close();

const f = (x: number | null, d = 1) => (x === null ? '-' : x.toFixed(d));
const malloc = hasDeviceMalloc() ? 'device settings (engine/runtime/malloc.ts), both sides' : 'glibc defaults';
console.log(`threads ${threads}; ${rounds} rounds per workload; medians over rounds (ratios and MFU taken within each round); malloc: ${malloc}`);
console.log('| workload | MatMul peak GFLOP/s | train tok/s ours | torch | ratio | torch, default malloc | ratio | MFU ours | MFU torch | decode tok/s ours | torch | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
const rows = results.map(({ workload: w, rounds: rs }) => {
  const torchPerToken = trainFlops(w.config, w.batch, w.seq, w.batch * w.seq) / (w.batch * w.seq);
  const mfu = (tps: number, peak: number) => (tps * torchPerToken) / (peak * 1e9);
  const paired = rs.filter((r) => r.torch);
  const row = {
    workload: `${w.name} (train ${w.batch}x${w.seq}${w.decodeTokens ? `, decode ${w.decodeTokens}${(w.decodeBatch ?? 1) > 1 ? ` x ${w.decodeBatch} rows` : ''}` : ''})`,
    peak_gflops: median(rs.map((r) => r.peak_gflops)),
    train_ours: median(rs.map((r) => r.ours.train.tokens_per_s)),
    train_torch: paired.length ? median(paired.map((r) => r.torch!.train.tokens_per_s)) : null,
    train_ratio: paired.length ? median(paired.map((r) => r.ours.train.tokens_per_s / r.torch!.train.tokens_per_s)) : null,
    train_torch_default: rs.some((r) => r.torchDefault) ? median(rs.filter((r) => r.torchDefault).map((r) => r.torchDefault!.train.tokens_per_s)) : null,
    train_ratio_default: rs.some((r) => r.torchDefault) ? median(rs.filter((r) => r.torchDefault).map((r) => r.ours.train.tokens_per_s / r.torchDefault!.train.tokens_per_s)) : null,
    mfu_ours: median(rs.map((r) => r.ours.train.mfu)),
    mfu_torch: paired.length ? median(paired.map((r) => mfu(r.torch!.train.tokens_per_s, r.peak_gflops))) : null,
    decode_ours: w.decodeTokens ? median(rs.map((r) => r.ours.decode!.tokens_per_s)) : null,
    decode_torch: w.decodeTokens && paired.length ? median(paired.map((r) => r.torch!.decode!.tokens_per_s)) : null,
    decode_ratio: w.decodeTokens && paired.length ? median(paired.map((r) => r.ours.decode!.tokens_per_s / r.torch!.decode!.tokens_per_s)) : null,
  };
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(0)}%`);
  console.log(`| ${row.workload} | ${f(row.peak_gflops, 0)} | ${f(row.train_ours)} | ${f(row.train_torch)} | ${f(row.train_ratio, 2)} | ${f(row.train_torch_default)} | ${f(row.train_ratio_default, 2)} | ${pct(row.mfu_ours)} | ${pct(row.mfu_torch)} | ${f(row.decode_ours)} | ${f(row.decode_torch)} | ${f(row.decode_ratio, 2)} |`);
  return row;
});
// Prefill of fresh prompts (GRPO starts every group with one): tokens/s, ratios within a round.
const prefills = results.filter((r) => r.workload.prefill).map(({ workload: w, rounds: rs }) => {
  const n = w.prefill!.rows * w.prefill!.tokens;
  const paired = rs.filter((r) => r.torch?.prefill);
  return {
    workload: `${w.name} (prefill ${w.prefill!.rows} x ${w.prefill!.tokens})`,
    fused: median(rs.map((r) => n / r.ours.prefill!.fused_s)),
    explicit: median(rs.map((r) => n / r.ours.prefill!.explicit_s)),
    fused_vs_explicit: median(rs.map((r) => r.ours.prefill!.explicit_s / r.ours.prefill!.fused_s)),
    torch: paired.length ? median(paired.map((r) => n / r.torch!.prefill!.median_s)) : null,
    ratio: paired.length ? median(paired.map((r) => r.torch!.prefill!.median_s / r.ours.prefill!.fused_s)) : null,
    group: median(rs.map((r) => n / r.ours.prefill!.group_s)),
    group_ratio: paired.length ? median(paired.map((r) => r.torch!.prefill!.median_s / r.ours.prefill!.group_s)) : null,
  };
});
if (prefills.length) {
  console.log('| workload | prefill tok/s ours (fused) | ours, explicit attention | fused / explicit | PyTorch | ratio | one prompt x rows (a GRPO group), ours | ratio |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of prefills) console.log(`| ${p.workload} | ${f(p.fused, 0)} | ${f(p.explicit, 0)} | ${f(p.fused_vs_explicit, 2)} | ${f(p.torch, 0)} | ${f(p.ratio, 2)} | ${f(p.group, 0)} | ${f(p.group_ratio, 2)} |`);
}
const report = { threads, rounds, malloc, rows, prefills, raw: results.map((r) => ({ workload: r.workload.name, train_gflop_per_step: r.flops / 1e9, rounds: r.rounds })) };
await mkdir(`${ROOT}bench/out`, { recursive: true });
await writeFile(`${ROOT}bench/out/engine.json`, JSON.stringify(report, null, 2));
console.log(JSON.stringify(report));
