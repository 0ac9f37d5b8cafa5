// The sampler's KV cache on the device: every layer's keys (transposed, [rows, Hkv, D, slots]) and values
// ([rows, Hkv, slots, D]), one row per live sequence. Rows are handed out and taken back without moving the
// others (a released row is reused by the next new sequence); capacity (slots) is shared by all rows and grows
// when a sequence would not fit. A decode step reads the leading rows in place, so the sequences of a step are
// first swapped to the front (toFront).
import type { Qwen3Config } from './config.ts';
import type { FloatType } from './graph/graph.ts';
import type { Device, DeviceTensor } from './runtime/device.ts';
import { storeNames } from './runtime/store-names.ts';
import type { CacheNames } from './runtime/store-names.ts';

/**
 * Every run feeds at least this many rows (a spare row when one sequence runs alone): onnxruntime's CPU Gemm
 * takes another path for a single row, whose rounding differs, and a sequence's tokens must not depend on
 * whether others shared its step (docs/engine.md, "Batch-composition invariance").
 */
export const MIN_ROWS = 2;

/**
 * Cache slots to allocate when `need` no longer fit: need plus an eighth (at least 256, at most 4,096), in
 * multiples of 64. A decode step reads every row up to the capacity, so headroom is read at every step, while a
 * re-layout copies the whole cache once; an eighth keeps the headroom under ~12% at the price of ~9x the final
 * cache in copies over a generation, where doubling read up to twice the cache at every step (docs/BENCHMARKS.md, "Engine design measurements").
 */
export function slotsFor(need: number): number {
  return Math.ceil((need + Math.min(4096, Math.max(256, need >> 3))) / 64) * 64;
}

/** Checks that a cache of `cacheRows` x `slots` fits (throws otherwise, before anything is allocated). */
export type MemoryCheck = (cacheRows: number, slots: number) => void;

export class KvCache<S extends object> {
  /** Cache row r holds rows[r] (null: free). */
  readonly rows: (S | null)[] = [];
  capacity = 0;
  readonly names: CacheNames;

  constructor(
    private readonly device: Device,
    private readonly config: Qwen3Config,
    private readonly dtype: FloatType,
    namespace: string,
    private readonly checkMemory: MemoryCheck,
  ) {
    this.names = storeNames.cache(namespace, config.numHiddenLayers);
  }

  rowOf(s: S): number {
    const r = this.rows.indexOf(s);
    if (r < 0) throw new Error('sampler: sequence has no cache row');
    return r;
  }

  /** Gives each sequence a row (free ones first); the cache grows by the rows still missing (at least MIN_ROWS). */
  async admit(seqs: S[]): Promise<void> {
    const free = this.rows.flatMap((s, r) => (s === null ? [r] : []));
    const extra = Math.max(0, seqs.length - free.length);
    const total = Math.max(MIN_ROWS, this.rows.length + extra);
    const grow = total - this.rows.length;
    if (grow > 0 && this.capacity > 0) await this.relayout(this.capacity, [...this.rows.keys(), ...Array<number>(grow).fill(-1)]);
    for (let i = 0; i < grow; i++) this.rows.push(null);
    let next = 0;
    for (const s of seqs) {
      while (this.rows[next] !== null) next++;
      this.rows[next] = s;
    }
  }

  /** Frees the sequences' rows; the whole cache when no sequence is left. */
  async free(seqs: S[]): Promise<void> {
    for (const s of seqs) {
      const r = this.rows.indexOf(s);
      if (r >= 0) this.rows[r] = null;
    }
    if (this.rows.every((s) => s === null)) {
      if (this.capacity > 0) await this.device.drop(this.names.all);
      this.capacity = 0;
      this.rows.length = 0;
    }
  }

  /** Grows the capacity so that `need` slots fit in every row. */
  async fit(need: number): Promise<void> {
    if (need > this.capacity) await this.relayout(slotsFor(need), [...this.rows.keys()]);
  }

  /** Throws when growing to `need` slots would not fit (nothing changes). */
  checkFit(need: number): void {
    if (need > this.capacity) this.checkMemory(this.rows.length, slotsFor(need));
  }

  /**
   * Moves the given sequences to the leading rows (their order among themselves kept), swapping each with the
   * row in front of it, so that a step reads and computes those rows only: an idle row costs as much as a live
   * one in a step. A swap copies two rows' caches, once per change of who runs.
   */
  async toFront(seqs: Set<S>): Promise<void> {
    const pairs: [number, number][] = [];
    let front = 0;
    this.rows.forEach((s, r) => {
      if (s === null || !seqs.has(s)) return;
      if (r !== front) {
        pairs.push([front, r]);
        [this.rows[front], this.rows[r]] = [this.rows[r], this.rows[front]];
      }
      front++;
    });
    if (pairs.length > 0 && this.capacity > 0) await this.device.swapRows(this.names.all, pairs);
  }

  /** Copies row `from`'s keys and values over row `to`, for each pair (a GRPO group's shared prefill). */
  async copyRows(pairs: [number, number][]): Promise<void> {
    if (pairs.length > 0) await this.device.copyRows(this.names.all, pairs);
  }

  async drop(): Promise<void> {
    await this.free(this.rows.filter((s): s is S => s !== null));
  }

  /** Re-lays out every layer's cache for `capacity` slots and the given old-row order (-1 = new empty row). */
  private async relayout(capacity: number, order: number[]): Promise<void> {
    this.checkMemory(order.length, capacity);
    if (this.capacity === 0) {
      const { numKeyValueHeads: h, headDim: d } = this.config;
      const zeros = (shape: number[]): DeviceTensor => {
        const n = shape.reduce((a, b) => a * b, 1);
        return { dtype: this.dtype, shape, data: this.dtype === 'float64' ? new Float64Array(n) : new Float32Array(n) };
      };
      for (const l of this.names.layers) {
        await this.device.put(l.keys, zeros([order.length, h, d, capacity]), true);
        await this.device.put(l.values, zeros([order.length, h, capacity, d]), true);
      }
    } else {
      for (const l of this.names.layers) {
        await this.device.resizeSlots(l.keys, capacity, order, true);
        await this.device.resizeSlots(l.values, capacity, order, false);
      }
    }
    this.capacity = capacity;
  }
}
