// The learner: scores sequences and trains the policy. The training loop of one optimizer step lives here:
// for each micro-batch run the gradient program (forward, loss, backward) and accumulate its gradients on the
// device; then clip by the global norm and apply AdamW there, skipping the step when the norm is not finite.
// Weights, gradients and the AdamW moments stay on the device thread; only scalars and per-token results cross.
import { totalmem } from 'node:os';
import type { Qwen3Config } from './config.ts';
import { qwen3ParamShapes } from './config.ts';
import type { FloatType } from './graph/graph.ts';
import type { FloatArray, FloatArrayOf, Weights } from './tensors.ts';
import { Rng } from './rng.ts';
import { Device } from './runtime/device.ts';
import type { DeviceTensor, Session } from './runtime/device.ts';
import { GRAD_PREFIX, METRIC_PREFIX, ROWS_PREFIX, ROW_INDEX_PREFIX, gradProgram, logProbsProgram, logitsProgram } from './programs.ts';
import type { Program } from './programs.ts';
import type { LossSpec } from './losses.ts';
import { checkTokenIds, encodeScoring, encodeSequences, encodeTrain, padsAtEnd, rowsOf, unpackScored } from './batch.ts';
import { storeNames } from './runtime/store-names.ts';
import type { LearnerNames } from './runtime/store-names.ts';
import type { Encoded, SequenceBatch, TrainMicroBatch } from './batch.ts';
import { fusedAttentionUsable, learnerAttention, learnerRunsByRow } from './attention-choice.ts';
import type { AttentionKind, LearnerAttention } from './attention-choice.ts';
import { overLimit, passBytes } from './memory.ts';
import { DEFAULT_ATTENTION_MEMORY, DEFAULT_OPTIMIZER } from './learner-types.ts';
import type { LearnerOptions, LearnerState, OptimizerConfig, TrainStepResult } from './learner-types.ts';

export { DEFAULT_ATTENTION_MEMORY, DEFAULT_OPTIMIZER } from './learner-types.ts';
export type { LearnerOptions, LearnerState, OptimizerConfig, TrainStepResult } from './learner-types.ts';

/** A learner's weights, gradients and state come back in its own precision. */
export class Learner<F extends FloatType = 'float32'> {
  readonly names: string[];
  private rngStream: Rng;
  private readonly sessions = new Map<string, Promise<Session>>();
  private readonly optimizer: OptimizerConfig;
  private readonly attention: LearnerAttention;
  private readonly memoryLimit: number;
  private readonly store: LearnerNames;
  private stepCount = 0;

  private constructor(
    readonly config: Qwen3Config,
    readonly device: Device,
    private readonly ownsDevice: boolean,
    readonly dtype: F,
    /** Namespace of this learner's gradients and moments in the device store. */
    ns: string,
    readonly prefix: string,
    opts: LearnerOptions<F>,
  ) {
    this.store = storeNames.learner(ns, prefix);
    this.names = [...qwen3ParamShapes(config).keys()];
    this.optimizer = { ...DEFAULT_OPTIMIZER, ...opts.optimizer };
    this.rngStream = Rng.fromSeed(opts.seed ?? 0, 'learner');
    const cpuOnly = device.executionProviders.every((p) => p === 'cpu');
    this.attention = {
      fused: fusedAttentionUsable(config, dtype, device.executionProviders, opts.attention ?? 'auto'),
      blocks: opts.attention !== 'whole-layer',
      memory: opts.attentionMemory ?? DEFAULT_ATTENTION_MEMORY,
    };
    this.memoryLimit = opts.memoryLimit ?? (cpuOnly ? totalmem() : Infinity);
  }

  /** Throws (naming `what`) when a pass over `enc` with `kind` attention would not fit in memoryLimit. */
  private checkMemory(what: string, enc: Encoded, headRows: number, kind: AttentionKind, use: 'train' | 'score'): void {
    const shape = { rows: enc.rows, cols: enc.cols, headRows };
    const err = overLimit(what, shape, kind, passBytes(this.config, shape, kind, use, this.dtype === 'float64' ? 8 : 4), this.memoryLimit);
    if (err) throw err;
  }

  /** Which attention the programs use for `batch`, in a train step or a scoring pass (see LearnerOptions). */
  attentionFor(batch: SequenceBatch, use: 'train' | 'score' = 'train'): AttentionKind {
    // A batch that runs row by row: its longest row's.
    const parts = this.byRow(batch).map((p) => encodeSequences(p.batch));
    return this.attentionOf(parts.reduce((a, e) => (e.cols > a.cols ? e : a)), use);
  }

  /**
   * Several rows of a long batch run one by one, each a batch of its own: a long row then takes query blocks
   * (one row only, see attentionOf), and no row is padded to the longest. The loss is a token mean over the
   * whole mini-batch and the metrics are sums, so the result is the same; what it costs is a program run per row.
   */
  private byRow<T extends SequenceBatch>(batch: T): { row: number | null; batch: T }[] {
    const whole = [{ row: null, batch }];
    const cols = Math.max(0, ...batch.inputIds.map((r) => r.length));
    if (!learnerRunsByRow(this.config, this.attention, batch.inputIds.length, cols)) return whole;
    return padsAtEnd(encodeSequences(batch)) ? rowsOf(batch) : whole;
  }

  private attentionOf(enc: Encoded, use: 'train' | 'score'): AttentionKind {
    return learnerAttention(this.config, this.attention, { rows: enc.rows, cols: enc.cols, padsAtEnd: padsAtEnd(enc) }, use);
  }

  /** Copies `weights` (f32 host tensors) onto the device (a fresh device unless `opts.device` is given). */
  static async create<F extends FloatType = 'float32'>(config: Qwen3Config, weights: Weights<FloatArray>, opts: LearnerOptions<F> = {}): Promise<Learner<F>> {
    const device = opts.device ?? new Device(opts.deviceOptions);
    const ns = storeNames.namespace('learner');
    const l = new Learner<F>(config, device, !opts.device, opts.dtype ?? ('float32' as F), ns, opts.prefix ?? `${ns}w/`, opts);
    await l.setWeights(weights);
    return l;
  }

  /** The learner's RNG stream (for callers' shuffling and sampling seeds); saved and restored with its state. */
  get rng(): Rng {
    return this.rngStream;
  }

  get step(): number {
    return this.stepCount;
  }

  /** Replaces the weights (shapes are checked against the config). */
  async setWeights(weights: Weights<FloatArray>): Promise<void> {
    const shapes = qwen3ParamShapes(this.config);
    for (const [name, shape] of shapes) {
      const t = weights.get(name);
      if (!t) throw new Error(`learner: weights lack ${name}`);
      if (t.shape.join() !== shape.join()) throw new Error(`learner: ${name} has shape [${t.shape}], expected [${shape}]`);
    }
    for (const name of this.names) await this.device.put(this.store.weights.of(name), this.toDevice(weights.get(name)!.shape, weights.get(name)!.data));
  }

  /** Copies of the current weights, in the learner's precision. */
  async weights(): Promise<Weights<FloatArrayOf<F>>> {
    return this.fetch(this.store.weights.all(this.names));
  }

  /**
   * Per-row log-probs of the targets (and the entropy of each position's distribution). With `mask` only the
   * positions where it is non-zero are scored (the head is skipped elsewhere) and the others are NaN.
   */
  async logProbs(batch: SequenceBatch, opts: { mask?: number[][] } = {}): Promise<{ logp: number[][]; entropy: number[][] }> {
    this.checkTokens(batch, opts.mask);
    const parts = this.byRow({ ...batch, ...(opts.mask ? { mask: opts.mask } : {}) });
    if (parts[0]?.row === null) return this.logProbsOf(batch, opts.mask);
    // Row by row (empty rows score nothing), back in the batch's row order.
    const out = { logp: batch.inputIds.map((): number[] => []), entropy: batch.inputIds.map((): number[] => []) };
    for (const { row, batch: { mask, ...part } } of parts) {
      const one = await this.logProbsOf(part, mask);
      out.logp[row!] = one.logp[0];
      out.entropy[row!] = one.entropy[0];
    }
    return out;
  }

  private async logProbsOf(batch: SequenceBatch, mask?: number[][]): Promise<{ logp: number[][]; entropy: number[][] }> {
    const enc = encodeScoring(batch, mask);
    const attention = this.attentionOf(enc, 'score');
    this.checkMemory('the batch', enc, enc.feeds.score_rows.shape[0], attention, 'score');
    const session = await this.session(`logprobs:${attention}`, () => logProbsProgram(this.config, this.dtype, attention));
    const out = await this.device.run(session, pick({ ...this.weightFeeds(), ...enc.feeds }, session), { logp: null, entropy: null });
    return { logp: unpackScored(out.logp.data as Float32Array, enc), entropy: unpackScored(out.entropy.data as Float32Array, enc) };
  }

  /**
   * The logits at every position of every row, [rows, cols, vocab] flat (cols: the longest row), in the learner's
   * precision: the model's output for the batch as Hugging Face's forward gives it (padding positions hold
   * what the model computes there).
   */
  async logits(batch: SequenceBatch): Promise<{ data: FloatArrayOf<F>; shape: [number, number, number] }> {
    this.checkTokens(batch);
    const enc = encodeSequences(batch);
    const attention = this.attentionOf(enc, 'score');
    this.checkMemory('the batch', enc, enc.rows * enc.cols, attention, 'score');
    const session = await this.session(`logits:${attention}`, () => logitsProgram(this.config, this.dtype, attention));
    const out = await this.device.run(session, pick({ ...this.weightFeeds(), ...enc.feeds }, session), { logits: null });
    return { data: out.logits.data as FloatArrayOf<F>, shape: [enc.rows, enc.cols, this.config.vocabSize] };
  }

  /**
   * Accumulates the gradients of a mini-batch (its micro-batches in order) into the device tensors `<ns>grad/<name>`.
   * Returns the summed (= token-mean) metrics and the number of loss tokens.
   */
  private async accumulateGradients(micro: TrainMicroBatch[], loss: LossSpec): Promise<{ metrics: Record<string, number>; lossTokens: number; sumSq: number }> {
    if (micro.length === 0) throw new Error('learner: a mini-batch needs at least one micro-batch');
    const grpo = loss.kind === 'grpo';
    micro.forEach((m) => this.checkTokens(m, m.lossMask));
    const parts = micro.flatMap((m, i) => this.byRow(m).map((p) => ({ what: p.row === null ? `micro-batch ${i}` : `micro-batch ${i}, row ${p.row}`, batch: p.batch })));
    const encoded = parts.map((p) => encodeTrain(p.batch, this.dtype, grpo));
    const lossTokens = encoded.reduce((a, e) => a + e.lossTokens, 0);
    // Every micro-batch is checked before the first runs, so a refused step leaves no partial gradients behind.
    encoded.forEach((e, i) => this.checkMemory(parts[i].what, e, e.feeds.loss_rows.shape[0], this.attentionOf(e, 'train'), 'train'));
    const programFor = (enc: Encoded) => {
      const attention = this.attentionOf(enc, 'train');
      return this.session(`grad:${loss.kind}:${attention}`, () => gradProgram(this.config, this.dtype, loss.kind, attention));
    };
    const session = await programFor(encoded[0]);
    const scalar = (v: number): DeviceTensor => ({ dtype: this.dtype, shape: [], data: this.dtype === 'float64' ? Float64Array.of(v) : Float32Array.of(v) });
    const knobs: Record<string, DeviceTensor> = grpo
      ? { eps_low: scalar(loss.epsLow), eps_high: scalar(loss.epsHigh), dual_clip_c: scalar(loss.dualClipC), log_ratio_clamp: scalar(loss.logRatioClamp ?? 20) }
      : {};
    const metrics: Record<string, number> = {};
    const rowParams = session.outputs.filter((o) => o.startsWith(ROWS_PREFIX)).map((o) => o.slice(ROWS_PREFIX.length));
    const denseParams = session.outputs.filter((o) => o.startsWith(GRAD_PREFIX)).map((o) => o.slice(GRAD_PREFIX.length));
    // Squared norms of embedding gradients that have no dense part (untied), built up from their rows.
    const rowsOnly = new Map(rowParams.filter((n) => !denseParams.includes(n)).map((n) => [n, 0]));
    let sumSq = 0;
    for (let i = 0; i < encoded.length; i++) {
      const into = i === 0 ? this.store.grads : this.store.gradParts;
      const fetches: Record<string, string | null> = { grad_sumsq: null };
      for (const n of denseParams) fetches[GRAD_PREFIX + n] = into.of(n);
      for (const n of rowParams) {
        fetches[ROWS_PREFIX + n] = this.store.gradRows.of(n);
        fetches[ROW_INDEX_PREFIX + n] = this.store.gradRowIndex.of(n);
      }
      for (const o of session.outputs) if (o.startsWith(METRIC_PREFIX)) fetches[o] = null;
      const feeds = { ...this.weightFeeds(), ...encoded[i].feeds, loss_scale: scalar(lossTokens > 0 ? 1 / lossTokens : 0), ...knobs };
      const program = i === 0 ? session : await programFor(encoded[i]);
      const out = await this.device.run(program, pick(feeds, program), fetches);
      for (const [k, v] of Object.entries(out)) {
        if (!k.startsWith(METRIC_PREFIX)) continue;
        const name = k.slice(METRIC_PREFIX.length);
        metrics[name] = (metrics[name] ?? 0) + Number(v.data[0]);
      }
      sumSq = i === 0 ? Number(out.grad_sumsq.data[0]) : await this.device.accumulate(denseParams.map((n) => [this.store.grads.of(n), this.store.gradParts.of(n)]));
      for (const n of rowParams) {
        const delta = await this.device.scatterRows(this.store.grads.of(n), this.store.gradRows.of(n), this.store.gradRowIndex.of(n), this.store.weights.of(n));
        if (rowsOnly.has(n)) rowsOnly.set(n, rowsOnly.get(n)! + delta);
        else sumSq += delta;
      }
      for (const v of rowsOnly.values()) sumSq += v;
    }
    await this.device.drop([...this.store.gradParts.all(denseParams), ...this.store.gradRows.all(rowParams), ...this.store.gradRowIndex.all(rowParams)]);
    return { metrics, lossTokens, sumSq };
  }

  /** Gradients of the mini-batch loss w.r.t. every parameter, without updating anything (tests, diagnostics). */
  async gradients(micro: TrainMicroBatch[], loss: LossSpec): Promise<{ grads: Weights<FloatArrayOf<F>>; metrics: Record<string, number> }> {
    const { metrics } = await this.accumulateGradients(micro, loss);
    const grads = await this.fetch(this.store.grads.all(this.names));
    await this.device.drop(this.store.grads.all(this.names));
    return { grads, metrics };
  }

  /** One optimizer step over a mini-batch of micro-batches (gradient accumulation), with learning rate `lr`. */
  async trainStep(micro: TrainMicroBatch[], loss: LossSpec, lr: number): Promise<TrainStepResult> {
    if (!(Number.isFinite(lr) && lr >= 0)) throw new Error(`learner: lr must be a finite non-negative number, got ${lr}`);
    const { metrics, lossTokens, sumSq } = await this.accumulateGradients(micro, loss);
    const o = this.optimizer;
    let gradNorm = 0;
    let skipped = true;
    if (lossTokens > 0) {
      ({ gradNorm, skipped } = await this.device.adamw({
        params: this.store.weights.all(this.names),
        grads: this.store.grads.all(this.names),
        moments1: this.store.moments1.all(this.names),
        moments2: this.store.moments2.all(this.names),
        lr,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
        weightDecay: o.weightDecay,
        step: this.stepCount + 1,
        maxNorm: o.maxGradNorm,
        sumSq,
      }));
    }
    await this.device.drop(this.store.grads.all(this.names));
    if (!skipped) this.stepCount++;
    const { loss: lossValue = 0, ...rest } = metrics;
    return { loss: lossValue, gradNorm, skipped, lossTokens, metrics: rest, step: this.stepCount };
  }

  /** Optimizer moments (zeros before the first update), step and RNG, for a checkpoint; in the learner's precision. */
  async state(): Promise<LearnerState<FloatArrayOf<F>>> {
    const shapes = qwen3ParamShapes(this.config);
    const moments = async (k: 'm' | 'v'): Promise<Weights<FloatArrayOf<F>>> => {
      const stored = await this.fetch((k === 'm' ? this.store.moments1 : this.store.moments2).all(this.names)).catch(() => null);
      if (stored) return stored;
      return new Map(this.names.map((n) => [n, { shape: shapes.get(n)!, data: this.zeros(shapes.get(n)!.reduce((a, b) => a * b, 1)) }]));
    };
    return { step: this.stepCount, optimizer: { m: await moments('m'), v: await moments('v') }, rng: this.rngStream.state() };
  }

  /** Restores what state() returned (weights are restored separately, with setWeights). */
  async loadState(s: LearnerState<FloatArray>): Promise<void> {
    for (const name of this.names) {
      for (const [k, w] of [['m', s.optimizer.m], ['v', s.optimizer.v]] as const) {
        const t = w.get(name);
        if (!t) throw new Error(`learner: optimizer state lacks ${k} of ${name}`);
        await this.device.put((k === 'm' ? this.store.moments1 : this.store.moments2).of(name), this.toDevice(t.shape, t.data));
      }
    }
    this.stepCount = s.step;
    this.rngStream = Rng.fromState(s.rng);
  }

  /** Releases the programs and, on a shared device, the weights and moments this learner stored. */
  async close(): Promise<void> {
    for (const s of this.sessions.values()) await this.device.release(await s).catch(() => undefined);
    this.sessions.clear();
    if (this.ownsDevice) await this.device.close();
    else await this.device.drop([this.store.weights, this.store.moments1, this.store.moments2].flatMap((p) => p.all(this.names)));
  }

  private session(key: string, build: () => Program): Promise<Session> {
    let s = this.sessions.get(key);
    if (!s) {
      s = this.device.load(build().bytes, this.dtype);
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Input ids, and targets where they are read (`used`: the loss or scoring mask; HF's -100 elsewhere is fine). */
  private checkTokens(batch: SequenceBatch, used?: number[][]): void {
    checkTokenIds('inputIds', batch.inputIds, this.config.vocabSize);
    if (batch.targets) checkTokenIds('targets', batch.targets, this.config.vocabSize, used);
  }

  private weightFeeds(): Record<string, string> {
    return Object.fromEntries(this.names.map((n) => [n, this.store.weights.of(n)]));
  }

  private toDevice(shape: number[], data: FloatArray): DeviceTensor {
    return { dtype: this.dtype, shape: [...shape], data: this.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data) };
  }

  private zeros(n: number): FloatArrayOf<F> {
    return (this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n)) as FloatArrayOf<F>;
  }

  /** Copies of stored per-parameter tensors (in this.names order), as the device holds them. */
  private async fetch(stored: string[]): Promise<Weights<FloatArrayOf<F>>> {
    const got = await this.device.get(stored);
    return new Map(got.map((t, i) => [this.names[i], { shape: t.shape, data: t.data as FloatArrayOf<F> }]));
  }
}

/** Only the feeds a session declares (unused inputs are pruned from programs). */
function pick<T>(feeds: Record<string, T>, session: Session): Record<string, T> {
  const out: Record<string, T> = {};
  for (const name of session.inputs) {
    if (!(name in feeds)) throw new Error(`learner: no feed for program input ${name}`);
    out[name] = feeds[name];
  }
  return out;
}
