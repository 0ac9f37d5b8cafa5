// Checks on what a binary reader handed back, before any value is used. apache-arrow's IPC reader trusts the
// bytes it is given: a shard damaged in the middle reads without complaint and yields wrong offsets or invalid
// UTF-8 (which Buffer.toString would silently turn into U+FFFD). A column of an unexpected type would otherwise
// make every row of the file a reject and surface only as a shortfall naming no column.
import { isUtf8 } from 'node:buffer';
import { DataType } from 'apache-arrow';
import type { Vector } from 'apache-arrow';
import { BadInputError } from '../errors.ts';

export type ExpectedType = 'string' | 'bool';

function matches(type: DataType, expected: ExpectedType): boolean {
  if (expected === 'bool') return DataType.isBool(type);
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return true;
  return DataType.isDictionary(type) && (DataType.isUtf8(type.dictionary) || DataType.isLargeUtf8(type.dictionary));
}

/**
 * Fails naming file, column, expected and found type when `vector` is not of the expected type. An all-null
 * column (type Null, as pyarrow writes a column of Nones) is accepted for optional columns only.
 */
export function checkColumnType(path: string, name: string, vector: Vector, expected: ExpectedType, required: boolean): void {
  if (matches(vector.type, expected)) return;
  if (!required && DataType.isNull(vector.type)) return;
  const want = expected === 'bool' ? 'bool' : 'string (utf8 / large_utf8)';
  throw new BadInputError(`${path}: column "${name}" has type ${String(vector.type)}, expected ${want}; the file does not have the declared format's schema`);
}

/**
 * Validates every chunk of a string column: offsets start at or after 0, never decrease, stay inside the values
 * buffer and cut it only at character starts, and the bytes they cover are valid UTF-8. Whole-buffer UTF-8 plus
 * "no cut inside a character" is the same as every value being valid, at one pass over the bytes.
 */
export function validateStringColumn(path: string, unit: string, name: string, vector: Vector): void {
  if (!DataType.isUtf8(vector.type) && !DataType.isLargeUtf8(vector.type)) return;
  for (const data of vector.data) {
    const fail = (what: string): never => {
      throw new BadInputError(`${path}: ${unit}, column "${name}": ${what}; the file is corrupt`);
    };
    const offsets = data.valueOffsets as Int32Array | BigInt64Array;
    const values = (data.values as Uint8Array | undefined) ?? new Uint8Array(0);
    if (!offsets || offsets.length < data.offset + data.length + 1) fail('the offsets buffer is shorter than the row count');
    const at = (i: number): number => Number(offsets[data.offset + i]);
    const first = at(0);
    if (first < 0) fail(`offset of row 0 is negative (${first})`);
    let prev = first;
    for (let i = 1; i <= data.length; i++) {
      const o = at(i);
      if (o < prev) fail(`offsets decrease at row ${i - 1} (${prev} then ${o})`);
      if (o > values.length) fail(`offset of row ${i - 1} (${o}) is beyond the values buffer (${values.length} bytes)`);
      if (o < values.length && i < data.length && (values[o] & 0xc0) === 0x80) fail(`row ${i} starts inside a UTF-8 character`);
      prev = o;
    }
    const bytes = Buffer.from(values.buffer, values.byteOffset + first, prev - first);
    if (!isUtf8(bytes)) {
      // Find the row for the message (only on the failure path).
      for (let i = 0; i < data.length; i++) {
        if (!isUtf8(Buffer.from(values.buffer, values.byteOffset + at(i), at(i + 1) - at(i)))) fail(`row ${i} is not valid UTF-8`);
      }
      fail('the values are not valid UTF-8');
    }
  }
}
