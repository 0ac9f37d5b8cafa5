// Reads the tables a report shows (per-step metrics, trajectories) whole: they are small next to the datasets,
// and a report needs every row. Parquet goes through parquet-wasm, Arrow IPC (stream or file) through
// apache-arrow, the same readers the stages write with, so the report sees exactly what the stage wrote.
import { readFileSync } from 'node:fs';
import { DataType, tableFromIPC, Vector } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';

/** A report input is corrupt or not what its name says. Named like the stages' error so activities never retry it. */
export class ReportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

export function readArrowTable(path: string): Table {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ReportInputError(`${path}: cannot read (${(err as Error).message})`);
  }
  try {
    if (path.endsWith('.parquet')) {
      const wasm = readParquet(bytes);
      return tableFromIPC(wasm.intoIPCStream());
    }
    return tableFromIPC(bytes);
  } catch (err) {
    throw new ReportInputError(`${path}: not a readable ${path.endsWith('.parquet') ? 'parquet' : 'Arrow IPC'} table (${(err as Error).message})`);
  }
}

/** Arrow values as plain JSON-like values: BigInt to number, vectors to arrays, struct rows to objects. */
export function plain(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'object') return value;
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, (v) => plain(v));
  if (Array.isArray(value)) return value.map(plain);
  // A list cell is a Vector of its values; a StructRow / MapRow (also iterable, as entries) turns into an object.
  if (value instanceof Vector) return Array.from(value as Iterable<unknown>, plain);
  const v = value as { toJSON?: () => unknown };
  const obj = typeof v.toJSON === 'function' ? (v.toJSON() as Record<string, unknown>) : (value as Record<string, unknown>);
  if (obj instanceof Map) return Object.fromEntries([...obj].map(([k, x]) => [String(k), plain(x)]));
  return Object.fromEntries(Object.entries(obj).map(([k, x]) => [k, plain(x)]));
}

/**
 * Rows as plain objects. Converting nested cells is the slow part, so callers name the `columns` they need and
 * the `rows` they show (default: all of each).
 */
export function tableRows(table: Table, opts: { columns?: string[]; rows?: number[] } = {}): Record<string, unknown>[] {
  const names = table.schema.fields.map((f) => f.name).filter((n) => !opts.columns || opts.columns.includes(n));
  const columns = names.map((n) => table.getChild(n)!);
  const indices = opts.rows ?? Array.from({ length: table.numRows }, (_, i) => i);
  return indices.map((i) => {
    const row: Record<string, unknown> = {};
    names.forEach((n, j) => (row[n] = plain(columns[j].get(i))));
    return row;
  });
}

export function isNumericType(type: DataType): boolean {
  return DataType.isInt(type) || DataType.isFloat(type) || DataType.isDecimal(type);
}

/** A numeric column as numbers, with null for missing or non-finite values (NaN means "not measured" here). */
export function numericColumn(table: Table, name: string): (number | null)[] {
  const col = table.getChild(name);
  if (!col) throw new ReportInputError(`no column ${JSON.stringify(name)}`);
  const out: (number | null)[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const v = col.get(i) as unknown;
    const x = typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : null;
    out.push(x !== null && Number.isFinite(x) ? x : null);
  }
  return out;
}
