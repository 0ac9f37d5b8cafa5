// The sampler: continuously batched, KV-cached generation for an asynchronous agent loop. Every live sequence
// owns one row of the cache. Callers submit work per sequence (start a prompt, resume after a tool turn) and may
// have any number of calls in flight; one scheduler loop runs the program steps, each step batching whatever
// sequences are ready, and each call resolves as soon as its own sequence stops, so a trajectory waiting on its
// tool call never holds up the others' decoding. A sequence's tokens and log-probs do not depend on which other
// sequences shared its steps (docs/engine.md, "Batch-composition invariance"): each has its own seeded RNG
// stream, and runs are shaped so that onnxruntime computes a row the same way whatever else is in the batch.
import { totalmem } from 'node:os';
import type { Qwen3Config } from './config.ts';
import { qwen3ParamShapes } from './config.ts';
import type { FloatType } from './graph/graph.ts';
import type { Weights } from './tensors.ts';
import { Rng } from './rng.ts';
import { Device } from './runtime/device.ts';
import { storeNames } from './runtime/store-names.ts';
import { checkTokenIds } from './batch.ts';
import { samplerOverLimit } from './memory.ts';
import { fusedAttentionUsable, prefillsOneByOne } from './attention-choice.ts';
import { KvCache } from './kv-cache.ts';
import { StepRunner } from './sampler-step.ts';
import type { FedSequence, Floats, StepInfo } from './sampler-step.ts';
import { sampleToken, validateChoice } from './sampling.ts';
import type { ContinueParams, Generation, SamplerOptions, SamplingParams, StartParams } from './sampler-types.ts';

export type { StepInfo } from './sampler-step.ts';
export type { ContinueParams, Generation, SamplerOptions, SamplingParams, StartParams } from './sampler-types.ts';

interface Request {
  params: ContinueParams;
  stops: Set<number>;
  gen: Generation;
  /** Tokens this call appended to pending (taken back if it fails before they were fed). */
  appended: number;
  resolve: (g: Generation) => void;
  reject: (e: Error) => void;
}

interface Sequence extends FedSequence {
  id: number;
  rng: Rng;
  request: Request | null;
}

/** The value under `key`, set to `fallback` first when there is none. */
function mapGet<K, V>(m: Map<K, V>, key: K, fallback: V): V {
  if (!m.has(key)) m.set(key, fallback);
  return m.get(key)!;
}

export class Sampler {
  private readonly seqs = new Map<number, Sequence>();
  private readonly cache: KvCache<Sequence>;
  private readonly runner: StepRunner;
  private nextId = 1;
  /** The scheduler loop (and anything else that touches the cache) runs as one chain. */
  private work: Promise<void> = Promise.resolve();
  private looping = false;
  /** Sequences released while the loop ran; their rows are freed before its next step. */
  private releasing: { seqs: Sequence[]; done: () => void }[] = [];

  private constructor(
    readonly config: Qwen3Config,
    readonly device: Device,
    private readonly ownsDevice: boolean,
    private readonly prefix: string,
    readonly dtype: FloatType,
    private readonly ownsWeights: boolean,
    /** Fresh prompts go through the fused prefill (see SamplerOptions.attention). */
    private readonly fusedPrefill: boolean,
    private readonly memoryLimit: number,
    private readonly maxSequenceLength: number,
  ) {
    const ns = storeNames.namespace('sampler');
    this.cache = new KvCache(device, config, dtype, ns, (rows, slots) => this.checkMemory(rows, slots));
    this.runner = new StepRunner(config, device, dtype, prefix, this.cache, (rows, tokens, prefill, blocks) =>
      this.checkMemory(this.cache.rows.length, this.cache.capacity, rows, tokens, prefill, blocks),
    );
  }

  static async create(config: Qwen3Config, opts: SamplerOptions): Promise<Sampler> {
    const device = opts.device ?? new Device(opts.deviceOptions);
    const dtype = opts.dtype ?? 'float32';
    if (!opts.weights === !opts.prefix) throw new Error('sampler: give either weights or the store prefix of weights on the device');
    const cpu = device.executionProviders.every((p) => p === 'cpu');
    const fused = fusedAttentionUsable(config, dtype, device.executionProviders, opts.attention ?? 'auto');
    const limit = opts.memoryLimit ?? (cpu ? totalmem() : Infinity);
    const prefix = opts.prefix ?? storeNames.namespace('sampler') + 'w/';
    const s = new Sampler(config, device, !opts.device, prefix, dtype, !opts.prefix, fused, limit, opts.maxSequenceLength ?? Infinity);
    if (opts.weights) await s.setWeights(opts.weights);
    return s;
  }

  /** Called after every program run (benchmarks, progress). */
  get onStep(): ((info: StepInfo) => void) | null {
    return this.runner.onStep;
  }
  set onStep(f: ((info: StepInfo) => void) | null) {
    this.runner.onStep = f;
  }

  /** Uploads new weights (a sampler that reads another's weights through `prefix` cannot). */
  async setWeights(weights: Weights): Promise<void> {
    if (!this.ownsWeights) throw new Error('sampler: reads weights stored by someone else (prefix); update them there');
    const names = storeNames.params(this.prefix);
    for (const [name] of qwen3ParamShapes(this.config)) {
      const t = weights.get(name);
      if (!t) throw new Error(`sampler: weights lack ${name}`);
      const data = this.dtype === 'float64' ? Float64Array.from(t.data) : Float32Array.from(t.data);
      await this.device.put(names.of(name), { dtype: this.dtype, shape: [...t.shape], data });
    }
  }

  /**
   * Starts a sequence from `promptIds` and generates until it stops; resolves with its tokens as soon as it
   * does. Prompts submitted together (before the scheduler's next step) share one prefill, identical ones once.
   */
  async start(promptIds: number[], params: StartParams): Promise<Generation> {
    this.checkParams(params);
    return this.begin(promptIds, params, Rng.fromSeed(params.seed, 'sequence'));
  }

  /**
   * Appends `appendIds` (a tool turn: the caller masks them out of the loss) to a stopped sequence and
   * generates until it stops again. The sequence's RNG stream carries on from where its last call left it.
   */
  async resume(seqId: number, appendIds: number[], params: ContinueParams): Promise<Generation> {
    this.checkParams(params);
    const s = this.idle(seqId);
    checkTokenIds(`resume(${seqId})`, [appendIds], this.config.vocabSize);
    if (s.pending.length + appendIds.length === 0) throw new Error(`sampler: sequence ${seqId} has nothing to continue from`);
    s.pending.push(...appendIds);
    return this.submit(s, params, appendIds.length);
  }

  /** Starts one sequence per prompt and generates until each stops (the streams seeded by (seed, index)). */
  async generate(prompts: number[][], params: SamplingParams): Promise<Generation[]> {
    this.checkParams(params);
    if (prompts.some((p) => p.length === 0)) throw new Error('sampler: empty prompt');
    checkTokenIds('prompts', prompts, this.config.vocabSize);
    const calls = await Promise.allSettled(prompts.map((p, i) => this.begin(p, params, Rng.fromSeed(params.seed, `sequence ${i}`))));
    const failed = calls.find((c) => c.status === 'rejected');
    if (!failed) return calls.map((c) => (c as PromiseFulfilledResult<Generation>).value);
    // The caller never gets these sequences' ids, so none may stay behind in the cache.
    await this.release(calls.flatMap((c) => (c.status === 'fulfilled' ? [c.value.seqId] : [])));
    throw failed.reason;
  }

  /** Appends tokens (a tool turn) to a stopped sequence; they are fed at its next continue(). */
  extend(seqId: number, tokenIds: number[]): void {
    checkTokenIds(`extend(${seqId})`, [tokenIds], this.config.vocabSize);
    this.idle(seqId).pending.push(...tokenIds);
  }

  /** Generates more tokens for stopped sequences (after extend()); resolves when all of them stopped. */
  async continue(seqIds: number[], params: ContinueParams): Promise<Generation[]> {
    this.checkParams(params);
    const seqs = seqIds.map((id) => this.idle(id));
    if (seqs.some((s) => s.pending.length === 0)) throw new Error('sampler: a sequence has nothing to continue from');
    return Promise.all(seqs.map((s) => this.submit(s, params, 0)));
  }

  /** Every token of a sequence the cache holds or will be fed. */
  length(seqId: number): number {
    const s = this.find(seqId);
    return s.cached + s.pending.length;
  }

  /** Frees stopped sequences' cache rows (unknown ids are ignored). */
  async release(seqIds: number[]): Promise<void> {
    const seqs = seqIds.flatMap((id) => (this.seqs.has(id) ? [this.idle(id)] : []));
    for (const s of seqs) this.seqs.delete(s.id);
    if (seqs.length === 0) return;
    await new Promise<void>((done) => {
      this.releasing.push({ seqs, done });
      this.schedule();
    });
  }

  /** Fails calls in flight, waits for the step running, and releases the programs, caches and own weights. */
  async close(): Promise<void> {
    for (const s of this.seqs.values()) this.finish(s, new Error('sampler: closed'));
    await this.work;
    await this.runner.close();
    if (this.ownsDevice) return this.device.close();
    await this.cache.drop();
    if (this.ownsWeights) await this.device.drop(storeNames.params(this.prefix).all([...qwen3ParamShapes(this.config).keys()]));
  }

  private checkParams(params: ContinueParams): void {
    validateChoice(params);
    if (!(Number.isInteger(params.maxNewTokens) && params.maxNewTokens >= 0)) throw new Error(`sampler: maxNewTokens must be a non-negative integer, got ${params.maxNewTokens}`);
  }

  private find(seqId: number): Sequence {
    const s = this.seqs.get(seqId);
    if (!s) throw new Error(`sampler: no sequence ${seqId}`);
    return s;
  }

  /** The sequence, which must not be generating. */
  private idle(seqId: number): Sequence {
    const s = this.find(seqId);
    if (s.request) throw new Error(`sampler: sequence ${seqId} is still generating (wait for its call to resolve)`);
    return s;
  }

  private begin(promptIds: number[], params: ContinueParams, rng: Rng): Promise<Generation> {
    if (promptIds.length === 0) throw new Error('sampler: empty prompt');
    checkTokenIds('prompt', [promptIds], this.config.vocabSize);
    const s: Sequence = { id: this.nextId++, cached: 0, pending: [...promptIds], rng, request: null };
    this.seqs.set(s.id, s);
    return this.submit(s, params, 0);
  }

  private submit(s: Sequence, params: ContinueParams, appended: number): Promise<Generation> {
    return new Promise<Generation>((resolve, reject) => {
      const gen: Generation = { seqId: s.id, tokens: [], logprobs: [], finishReason: 'length' };
      if (params.maxNewTokens === 0 || this.full(s)) return resolve(gen);
      s.request = { params, stops: new Set(params.stopTokens ?? []), gen, appended, resolve, reject };
      this.schedule();
    });
  }

  private full(s: Sequence): boolean {
    return s.cached + s.pending.length >= this.maxSequenceLength;
  }

  /** Ends a sequence's call: with its generation, or with an error. */
  private finish(s: Sequence, error?: Error): void {
    const req = s.request;
    if (!req) return;
    s.request = null;
    if (error) req.reject(error);
    else req.resolve(req.gen);
  }

  /**
   * Runs the scheduler loop on the next turn of the event loop (so that calls made together, a GRPO group's
   * starts, join one step), until no call is in flight.
   */
  private schedule(): void {
    if (this.looping) return;
    this.looping = true;
    this.work = this.work
      .then(() => new Promise<void>((r) => setImmediate(r)))
      .then(async () => {
        while (this.releasing.length > 0 || this.active().length > 0) await this.iteration();
      })
      .finally(() => {
        this.looping = false;
        if (this.releasing.length > 0 || this.active().length > 0) this.schedule();
      });
  }

  private active(): Sequence[] {
    return [...this.seqs.values()].filter((s) => s.request !== null);
  }

  /**
   * One round of the loop: free released rows, prefill fresh prompts, feed each resumed sequence its appended
   * turn, then one decode step over every sequence with one token to feed. Each run's sequences sample right
   * after it, and a sequence that stopped resolves its call at once.
   */
  private async iteration(): Promise<void> {
    for (const r of this.releasing.splice(0)) {
      await this.cache.free(r.seqs).catch(() => undefined);
      r.done();
    }
    const active = this.active();
    const fresh = active.filter((s) => s.cached === 0);
    if (fresh.length > 0) await this.guarded(fresh, () => this.prefill(fresh));
    // An appended turn runs alone (as the same sequence would alone): rows fed more than one token are not
    // batched with rows of other lengths.
    for (const s of active.filter((x) => x.request && x.cached > 0 && x.pending.length > 1)) await this.guarded([s], () => this.decode([s]));
    const ready = active.filter((s) => s.request && s.cached > 0 && s.pending.length === 1);
    if (ready.length > 0) await this.guarded(ready, () => this.decode(this.withinMemory(ready)));
  }

  /** Runs `fn`; if it throws, fails the calls of `seqs` (fresh sequences are dropped, appended turns taken back). */
  private async guarded(seqs: Sequence[], fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      const fresh = seqs.filter((s) => s.cached === 0);
      for (const s of seqs) {
        if (s.request && s.cached > 0) s.pending.splice(s.pending.length - s.request.appended);
        this.finish(s, e as Error);
      }
      for (const s of fresh) this.seqs.delete(s.id);
      await this.cache.free(fresh).catch(() => undefined);
    }
  }

  /** The sequences whose step fits in memory; the others' calls fail with the memory error. */
  private withinMemory(seqs: Sequence[]): Sequence[] {
    const need = (s: Sequence) => s.cached + s.pending.length;
    try {
      this.cache.checkFit(Math.max(...seqs.map(need)));
      return seqs;
    } catch (e) {
      // Those that would grow the cache fail; the others still fit in it as it is.
      for (const s of seqs) if (need(s) > this.cache.capacity) this.finish(s, e as Error);
      return seqs.filter((s) => s.request);
    }
  }

  /**
   * Fresh prompts: each distinct prompt is fed once (a GRPO group's copies get its cache row and logits, and
   * sample with their own streams); long prompts one by one in query blocks. Without the fused prefill, each
   * distinct prompt runs alone through the decode program.
   */
  private async prefill(fresh: Sequence[]): Promise<void> {
    await this.cache.admit(fresh);
    const firstOf = new Map<string, Sequence>();
    const sameAs = new Map(fresh.map((s) => [s, mapGet(firstOf, s.pending.join(), s)]));
    const distinct = fresh.filter((s) => sameAs.get(s) === s);
    const longest = Math.max(...distinct.map((s) => s.pending.length));
    await this.cache.fit(longest);
    const parts = !this.fusedPrefill || (distinct.length > 1 && prefillsOneByOne(longest)) ? distinct.map((s) => [s]) : [distinct];
    const out = new Map<Sequence, { logits: Floats; lse: Floats; row: number }>();
    for (const part of parts) {
      if (!this.fusedPrefill) await this.cache.toFront(new Set(part));
      const { logits, lse } = await this.runner.run(part, this.fusedPrefill);
      part.forEach((s, row) => out.set(s, { logits, lse, row }));
    }
    await this.cache.copyRows(fresh.filter((s) => sameAs.get(s) !== s).map((s) => [this.cache.rowOf(sameAs.get(s)!), this.cache.rowOf(s)]));
    for (const s of fresh) {
      const o = out.get(sameAs.get(s)!)!;
      s.cached = s.pending.length;
      s.pending = [];
      this.sample(s, o.logits, o.lse, o.row);
    }
  }

  /** One decode run over `seqs` (their pending tokens), moved to the leading cache rows first. */
  private async decode(seqs: Sequence[]): Promise<void> {
    if (seqs.length === 0) return;
    await this.cache.fit(Math.max(...seqs.map((s) => s.cached + s.pending.length)));
    const set = new Set(seqs);
    await this.cache.toFront(set);
    const order = this.cache.rows.slice(0, seqs.length) as Sequence[];
    const { logits, lse } = await this.runner.run(order, false);
    order.forEach((s, row) => {
      s.cached += s.pending.length;
      s.pending = [];
      this.sample(s, logits, lse, row);
    });
  }

  /** Samples the sequence's next token from row `row` of the logits; ends its call when it stops. */
  private sample(s: Sequence, logits: Floats, lse: Floats, row: number): void {
    const req = s.request;
    if (!req) return; // closed meanwhile
    const vocab = this.config.vocabSize;
    const { token, logprob } = sampleToken(logits, row * vocab, vocab, req.params, s.rng, lse[row]);
    req.gen.tokens.push(token);
    req.gen.logprobs.push(logprob);
    s.pending.push(token);
    if (req.stops.has(token)) req.gen.finishReason = 'stop';
    if (req.gen.finishReason === 'stop' || req.gen.tokens.length >= req.params.maxNewTokens || this.full(s)) this.finish(s);
  }

  private checkMemory(cacheRows: number, slots: number, rows = 0, tokens = 0, prefill = false, blocks = 0): void {
    const err = samplerOverLimit(this.config, { cacheRows, slots, rows, tokens, prefill, blocks }, this.dtype === 'float64' ? 8 : 4, this.memoryLimit);
    if (err) throw err;
  }
}
