// Token batches as callers hold them (one array per row, rows of any length) -> the padded tensors the programs
// take. Rows are right-padded with token 0 and attention_mask 0.
import type { FloatType } from './graph/graph.ts';
import type { DeviceTensor } from './runtime/device.ts';

export interface SequenceBatch {
  /** Token ids per row. */
  inputIds: number[][];
  /** 1 = real token (default: every given token). Left padding is expressed with zeros here. */
  attentionMask?: number[][];
  /** Rotary positions (default: cumsum(attention_mask) - 1, clamped at 0, as HF generate does). */
  positionIds?: number[][];
  /** targets[b][t]: the token position t predicts (default: inputIds[b][t + 1], 0 past the end). */
  targets?: number[][];
}

export interface TrainMicroBatch extends SequenceBatch {
  /** 1 where targets[b][t] is trained. */
  lossMask: number[][];
  /** GRPO: the rollout policy's log-probs of targets. */
  oldLogp?: number[][];
  /** GRPO: per-token advantages. */
  advantages?: number[][];
}

export interface Encoded {
  rows: number;
  cols: number;
  lengths: number[];
  feeds: Record<string, DeviceTensor>;
}

function ints(rows: number[][], b: number, t: number, fill: (r: number, c: number) => number): BigInt64Array {
  const out = new BigInt64Array(b * t);
  for (let r = 0; r < b; r++) for (let c = 0; c < t; c++) out[r * t + c] = BigInt(c < rows[r].length ? fill(r, c) : 0);
  return out;
}

function checkRows(name: string, rows: number[][] | undefined, lengths: number[]): void {
  if (!rows) return;
  if (rows.length !== lengths.length) throw new Error(`batch: ${name} has ${rows.length} rows, expected ${lengths.length}`);
  rows.forEach((row, r) => {
    if (row.length !== lengths[r]) throw new Error(`batch: ${name}[${r}] has ${row.length} entries, expected ${lengths[r]}`);
  });
}

/**
 * Throws unless every entry of `rows` (with `used`, every entry where it is non-zero) is a token id of a
 * `vocab`-sized vocabulary (an integer in [0, vocab)), naming the first one that is not. The programs would not: a negative id gathers from the end of the
 * embedding table, and one past the end fails deep inside onnxruntime.
 */
export function checkTokenIds(name: string, rows: readonly (readonly number[])[], vocab: number, used?: readonly (readonly number[])[]): void {
  rows.forEach((row, r) =>
    row.forEach((id, c) => {
      if (used && !used[r]?.[c]) return;
      if (!(Number.isInteger(id) && id >= 0 && id < vocab)) throw new Error(`batch: ${name}[${r}][${c}] is ${id}, not a token id in [0, ${vocab})`);
    }),
  );
}

/** input_ids, position_ids, attention_mask and targets for a batch. */
export function encodeSequences(batch: SequenceBatch): Encoded {
  const lengths = batch.inputIds.map((r) => r.length);
  const b = lengths.length;
  const t = Math.max(1, ...lengths);
  if (b === 0) throw new Error('batch: no rows');
  for (const [name, rows] of [['attentionMask', batch.attentionMask], ['positionIds', batch.positionIds], ['targets', batch.targets]] as const) checkRows(name, rows, lengths);
  const mask = batch.attentionMask;
  const positions = batch.positionIds ?? batch.inputIds.map((row, r) => {
    let seen = 0;
    return row.map((_, c) => Math.max(0, (seen += mask ? mask[r][c] : 1) - 1));
  });
  const shape = [b, t];
  return {
    rows: b,
    cols: t,
    lengths,
    feeds: {
      input_ids: { dtype: 'int64', shape, data: ints(batch.inputIds, b, t, (r, c) => batch.inputIds[r][c]) },
      position_ids: { dtype: 'int64', shape, data: ints(batch.inputIds, b, t, (r, c) => positions[r][c]) },
      attention_mask: { dtype: 'int64', shape, data: ints(batch.inputIds, b, t, (r, c) => (mask ? mask[r][c] : 1)) },
      targets: {
        dtype: 'int64',
        shape,
        data: ints(batch.inputIds, b, t, (r, c) => (batch.targets ? batch.targets[r][c] : (batch.inputIds[r][c + 1] ?? 0))),
      },
    },
  };
}

/**
 * True when every row is real tokens followed only by padding (attention_mask 1...1 0...0): causal attention
 * alone then masks the padding for every real token, which lets the fused causal kernel run the batch.
 */
export function padsAtEnd(enc: Encoded): boolean {
  const mask = enc.feeds.attention_mask.data as BigInt64Array;
  for (let r = 0; r < enc.rows; r++) {
    let padding = false;
    for (let c = 0; c < enc.cols; c++) {
      const real = mask[r * enc.cols + c] !== 0n;
      if (real && padding) return false;
      padding ||= !real;
    }
  }
  return true;
}

/** Feeds the flat positions as `rowsName` and replaces the [B, T] targets by theirs at those positions. */
function packTargets(enc: Encoded, positions: number[], rowsName: 'loss_rows' | 'score_rows'): void {
  const targets = enc.feeds.targets.data as BigInt64Array;
  enc.feeds[rowsName] = { dtype: 'int64', shape: [positions.length], data: BigInt64Array.from(positions, (x) => BigInt(x)) };
  enc.feeds.targets = { dtype: 'int64', shape: [positions.length], data: BigInt64Array.from(positions, (x) => targets[x]) };
}

/**
 * Everything a train micro-batch feeds, plus its number of loss tokens. Per-token values are packed at the loss
 * positions only (loss_rows: flat b * cols + t where lossMask is non-zero), the only rows the head runs on. A
 * micro-batch without loss tokens feeds one row of weight 0, so its program still runs and adds nothing.
 */
export function encodeTrain(batch: TrainMicroBatch, dtype: FloatType, withGrpo: boolean): Encoded & { lossTokens: number } {
  const enc = encodeSequences(batch);
  checkRows('lossMask', batch.lossMask, enc.lengths);
  const positions: number[] = [];
  let lossTokens = 0;
  batch.lossMask.forEach((row, r) =>
    row.forEach((v, c) => {
      if (!Number.isFinite(v)) throw new Error(`batch: lossMask[${r}][${c}] is ${v}`);
      if (v !== 0) positions.push(r * enc.cols + c);
      lossTokens += v;
    }),
  );
  // No loss tokens: one row of weight 0 keeps the program running (see above); its values are never used.
  const noLossTokens = positions.length === 0;
  if (noLossTokens) positions.push(0);
  packTargets(enc, positions, 'loss_rows');
  const m = positions.length;
  const packed = (rows: number[][] | undefined, name: string) => {
    if (!rows) throw new Error(`batch: ${name} is required`);
    const out = dtype === 'float64' ? new Float64Array(m) : new Float32Array(m);
    positions.forEach((flat, i) => {
      const r = Math.floor(flat / enc.cols);
      const v = rows[r][flat - r * enc.cols] ?? 0;
      // A NaN here would only show as a skipped step (non-finite gradient norm): say where it is instead.
      if (!noLossTokens && !Number.isFinite(v)) throw new Error(`batch: ${name}[${r}][${flat - r * enc.cols}] is ${v} at a trained position`);
      out[i] = v;
    });
    return { dtype, shape: [m], data: out };
  };
  enc.feeds.loss_mask = packed(batch.lossMask, 'lossMask');
  if (withGrpo) {
    checkRows('oldLogp', batch.oldLogp, enc.lengths);
    checkRows('advantages', batch.advantages, enc.lengths);
    enc.feeds.old_logp = packed(batch.oldLogp, 'oldLogp');
    enc.feeds.advantages = packed(batch.advantages, 'advantages');
  }
  return { ...enc, lossTokens };
}

/** Sequences plus the positions a scoring pass computes (score_rows, flat b * cols + t) and their targets. */
export interface EncodedScoring extends Encoded {
  /** Flat position of each scored value, in output order. */
  positions: number[];
}

/**
 * input_ids, position_ids, attention_mask, and the positions to score: every token of every row, or with `mask`
 * only where it is non-zero (GRPO needs the response tokens only; the head is most of the pass).
 */
export function encodeScoring(batch: SequenceBatch, mask?: number[][]): EncodedScoring {
  const enc = encodeSequences(batch);
  checkRows('mask', mask, enc.lengths);
  const positions: number[] = [];
  enc.lengths.forEach((n, r) => {
    for (let c = 0; c < n; c++) if (!mask || mask[r][c] !== 0) positions.push(r * enc.cols + c);
  });
  packTargets(enc, positions.length > 0 ? positions : [0], 'score_rows');
  return { ...enc, positions };
}

/** Scored values back into rows of each row's length, NaN where a position was not scored. */
export function unpackScored(values: ArrayLike<number>, enc: EncodedScoring): number[][] {
  const rows = enc.lengths.map((n) => new Array<number>(n).fill(NaN));
  enc.positions.forEach((flat, i) => {
    const r = Math.floor(flat / enc.cols);
    rows[r][flat - r * enc.cols] = values[i];
  });
  return rows;
}

/** Each row of a batch as a batch of its own (every per-row field cut the same way), with its row number; empty
 * rows are left out. */
export function rowsOf<T extends SequenceBatch>(batch: T): { row: number; batch: T }[] {
  const keys = Object.keys(batch).filter((k) => Array.isArray((batch as Record<string, unknown>)[k])) as (keyof T)[];
  const one = (r: number) => Object.fromEntries(keys.map((k) => [k, [(batch[k] as unknown[])[r]]])) as unknown as T;
  return batch.inputIds.flatMap((ids, row) => (ids.length === 0 ? [] : [{ row, batch: one(row) }]));
}
