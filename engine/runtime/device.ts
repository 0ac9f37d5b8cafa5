// The main-thread handle on a device thread (worker.mjs): compiled graphs run there and big tensors live in its
// store, so the event loop never blocks on `session.run` and weights cross the thread boundary once. Feeds
// name stored tensors (zero-copy inputs) or carry small inline tensors; fetches either come back or go into
// the store under a name (replacing what was there).
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import type { DataType } from '../onnx/proto.ts';

export type TypedData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface DeviceTensor {
  dtype: DataType;
  shape: number[];
  data: TypedData;
}

/** A session input: a stored tensor's name, the first `rows` rows of one, or a tensor sent along. */
export type Feed = string | { stored: string; rows: number } | DeviceTensor;

export interface DeviceOptions {
  /** Intra-op threads (default: every core). */
  threads?: number;
  /** onnxruntime execution providers in preference order, e.g. ['cuda', 'cpu'] on a GPU host. Default ['cpu']. */
  executionProviders?: string[];
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
}

export interface Session {
  id: number;
  inputs: string[];
  outputs: string[];
}

export interface AdamwArgs {
  params: string[];
  grads: string[];
  moments1: string[];
  moments2: string[];
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
  /** Clip the global gradient norm to this (0 = no clipping). */
  maxNorm: number;
  /** Squared global norm of `grads`. */
  sumSq: number;
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

export class Device {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private failed: Error | null = null;
  readonly threads: number;
  readonly executionProviders: readonly string[];

  constructor(opts: DeviceOptions = {}) {
    this.threads = opts.threads ?? availableParallelism();
    this.executionProviders = opts.executionProviders ?? ['cpu'];
    this.worker = new Worker(new URL('./worker.mjs', import.meta.url), {
      workerData: { threads: this.threads, executionProviders: opts.executionProviders, graphOptimizationLevel: opts.graphOptimizationLevel },
    });
    this.worker.unref();
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.id);
      if (!p) return;
      this.pending.delete(r.id);
      if (this.pending.size === 0) this.worker.unref();
      if (r.ok) p.resolve(r.value);
      else p.reject(new Error(r.error));
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`device thread exited (code ${code})`)));
  }

  private call<T>(cmd: string, payload: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, cmd, ...payload }, transfer);
    });
  }

  /**
   * Compiles a serialised ONNX model. float64 programs load with basic graph optimisations only: onnxruntime's
   * extended CPU fusions (QuickGelu, ...) have float kernels only and would leave a double graph unrunnable.
   */
  load(bytes: Uint8Array, dtype: 'float32' | 'float64' = 'float32'): Promise<Session> {
    const graphOptimizationLevel = dtype === 'float64' ? 'basic' : undefined;
    return this.call<{ session: number; inputs: string[]; outputs: string[] }>('load', { bytes, graphOptimizationLevel }).then((r) => ({ id: r.session, inputs: r.inputs, outputs: r.outputs }));
  }

  /** Stores a tensor under `name`. With `transfer` the caller's buffer moves (and is detached here) instead of being copied. */
  put(name: string, value: DeviceTensor, transfer = false): Promise<void> {
    return this.call('put', { name, value }, transfer ? [value.data.buffer as ArrayBuffer] : []);
  }

  /**
   * Runs a session. A feed is a stored tensor's name, the leading rows (axis 0) of one (a view, no copy), or an
   * inline tensor (copied); a fetch's destination is a store name, or null to return it.
   */
  run(session: Session, feeds: Record<string, Feed>, fetches: Record<string, string | null>): Promise<Record<string, DeviceTensor>> {
    return this.call('run', { session: session.id, feeds, fetches });
  }

  /** Copies of stored tensors. */
  get(names: string[]): Promise<DeviceTensor[]> {
    return this.call('get', { names });
  }

  drop(names: string[]): Promise<void> {
    return this.call('drop', { names });
  }

  /** Swaps rows (axis 0) of each named stored tensor in place, pair by pair (KV-cache rows). */
  swapRows(names: string[], pairs: [number, number][]): Promise<void> {
    return this.call('swapRows', { names, pairs, copy: false });
  }

  /** Copies row `from` over row `to` (axis 0) of each named stored tensor, for each [from, to] pair. */
  copyRows(names: string[], pairs: [number, number][]): Promise<void> {
    return this.call('swapRows', { names, pairs, copy: true });
  }

  /** Renames stored tensors (all moves happen at once, so a swap is [[a, b], [b, a]]). */
  rename(pairs: [string, string][]): Promise<void> {
    return this.call('rename', { pairs });
  }

  /**
   * KV-cache write-back of several caches at the same slots; see worker.mjs. `rows` gives the cache row of each
   * row of the sources (default: the same row).
   */
  writeSlots(writes: { dst: string; src: string; keysTransposed: boolean }[], slots: Int32Array, rows: Int32Array | null = null): Promise<void> {
    return this.call('writeSlots', { writes, slots, rows });
  }

  /** KV-cache re-layout to a new capacity and row order; see worker.mjs. */
  resizeSlots(name: string, capacity: number, rows: number[] | null, keysTransposed: boolean): Promise<void> {
    return this.call('resizeSlots', { name, capacity, rows, keysTransposed });
  }

  /** into += from for each pair, in place; returns the sum of squares of the results. */
  accumulate(pairs: [string, string][]): Promise<number> {
    return this.call('accumulate', { pairs });
  }

  /**
   * Adds rows ([n, width] at int64 indices [n]) into the stored [rows, width] tensor `into` (created as zeros
   * shaped like `like` when absent); returns the change of its sum of squares.
   */
  scatterRows(into: string, rows: string, index: string, like: string): Promise<number> {
    return this.call('scatterRows', { into, rows, index, like });
  }

  /**
   * Global-norm gradient clipping + AdamW over stored tensors, in place (see worker.mjs). `step` is the 1-based
   * step used for bias correction. Nothing changes when the gradient norm is not finite.
   */
  adamw(args: AdamwArgs): Promise<{ gradNorm: number; skipped: boolean }> {
    return this.call('adamw', { ...args });
  }

  release(session: Session): Promise<void> {
    return this.call('release', { session: session.id });
  }

  async close(): Promise<void> {
    this.failed ??= new Error('device closed');
    await this.worker.terminate();
  }
}
