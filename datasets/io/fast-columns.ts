// Per-row access to Arrow columns. apache-arrow's Vector.get goes through a generic visitor per call; reading a
// Utf8 column's offsets and bytes directly and decoding with Buffer costs much less per cell (docs/BENCHMARKS.md)
// and never builds row objects. Callers validate the offsets and UTF-8 of untrusted files first (validate.ts).
import { DataType } from 'apache-arrow';
import type { Vector } from 'apache-arrow';

export type CellGetter = (i: number) => unknown;

/** A getter for row i of `vector`: direct for single-chunk Utf8, Vector.get otherwise. */
export function cellGetter(vector: Vector): CellGetter {
  if (vector.data.length !== 1 || !DataType.isUtf8(vector.type)) return (i) => vector.get(i);
  const data = vector.data[0];
  const offsets = data.valueOffsets as Int32Array;
  const values = data.values as Uint8Array;
  const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
  const bitmap = data.nullCount > 0 ? data.nullBitmap : undefined;
  const base = data.offset;
  if (!bitmap) return (i) => bytes.toString('utf8', offsets[i], offsets[i + 1]);
  return (i) => {
    const j = base + i;
    return (bitmap[j >> 3] & (1 << (j & 7))) === 0 ? null : bytes.toString('utf8', offsets[i], offsets[i + 1]);
  };
}

/** The bytes and offsets of a single-chunk Utf8 column: row i is bytes[offsets[i], offsets[i + 1]). */
export interface Utf8Slices {
  bytes: Uint8Array;
  offsets: Int32Array;
}

/** Raw access to a Utf8 column's bytes, or null when the column is chunked or of another type. */
export function utf8Slices(vector: Vector | null): Utf8Slices | null {
  if (!vector || vector.data.length !== 1 || !DataType.isUtf8(vector.type)) return null;
  const data = vector.data[0];
  return { bytes: data.values as Uint8Array, offsets: data.valueOffsets as Int32Array };
}
