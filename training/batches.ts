// Data order and batches of a training epoch.
// - Order: rows are ranked by a keyed hash of (seed, epoch, the row's content digest), so an epoch's order depends
//   on the seed and the rows' content only: not on file order, file names or how the reader chunked them.
//   Identical rows tie, and are interchangeable.
// - Batches: consecutive runs of `batchSize` rows of that order, one optimizer step each. The last batch of an
//   epoch keeps the remaining rows when fewer than batchSize are left (a smaller step, nothing dropped); the
//   loss is a token mean over the batch, so a small batch is weighted by its own tokens.
// - Micro-batches: inside a batch, rows sorted by length (longest first) are packed greedily while rows x longest
//   stays within `microTokens` padded tokens; a row longer than that runs alone. Gradient accumulation is exact
//   (engine/learner.ts), so packing changes speed and memory, not the step's result beyond float rounding.
import { createHash } from 'node:crypto';
import type { TrainMicroBatch } from '../engine/batch.ts';

export interface TokenRow {
  ids: Int32Array;
  /** 1 where the token is trained (aligned with ids). */
  mask: Int8Array;
}

export function rowDigest(row: TokenRow): string {
  return createHash('sha256')
    .update(new Uint8Array(row.ids.buffer, row.ids.byteOffset, row.ids.byteLength))
    .update('\u0000')
    .update(new Uint8Array(row.mask.buffer, row.mask.byteOffset, row.mask.byteLength))
    .digest('hex');
}

/** Row indices in the epoch's order. */
export function epochOrder(seed: number, epoch: number, digests: readonly string[]): number[] {
  const keys = digests.map((d) => createHash('sha256').update(`agentrl-sft-order\u0000${seed}\u0000${epoch}\u0000${d}`).digest('hex'));
  return digests.map((_, i) => i).sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
}

export function stepsPerEpoch(rows: number, batchSize: number): number {
  return Math.ceil(rows / batchSize);
}

/** The rows of batch `b` of an epoch order. */
export function batchRows(order: readonly number[], batchSize: number, b: number): number[] {
  return order.slice(b * batchSize, (b + 1) * batchSize);
}

/** Packs rows into micro-batches (see the module comment). */
export function packMicroBatches(rows: readonly TokenRow[], microTokens: number): TrainMicroBatch[] {
  const sorted = rows.map((r, i) => ({ r, i })).sort((a, b) => b.r.ids.length - a.r.ids.length || a.i - b.i);
  const groups: TokenRow[][] = [];
  let current: TokenRow[] = [];
  let longest = 0;
  for (const { r } of sorted) {
    if (current.length > 0 && (current.length + 1) * longest > microTokens) {
      groups.push(current);
      current = [];
    }
    if (current.length === 0) longest = r.ids.length;
    current.push(r);
  }
  if (current.length > 0) groups.push(current);
  return groups.map((g) => ({
    inputIds: g.map((r) => Array.from(r.ids)),
    // targets[t] is ids[t + 1]: position t is trained when the token it predicts is.
    lossMask: g.map((r) => Array.from(r.mask, (_, t) => (t + 1 < r.mask.length ? r.mask[t + 1] : 0))),
  }));
}

/** The worst micro-batch the packer can form from rows no longer than `longest` (for the memory pre-check). */
export function worstMicroBatch(longest: number, microTokens: number): { rows: number; cols: number } {
  return { rows: Math.max(1, Math.floor(microTokens / Math.max(1, longest))), cols: longest };
}
