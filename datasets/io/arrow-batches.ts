// Batch-at-a-time readers for the binary inputs: parquet shards row group by row group (parquet-wasm's
// ParquetFile over a file-backed Blob, so only the footer and the requested column chunks are read), and Arrow
// IPC stream/file shards batch by batch. Memory stays bounded by one row group / one batch.
import { openAsBlob } from 'node:fs';
import { createReadStream } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { RecordBatchReader, tableFromIPC } from 'apache-arrow';
import type { RecordBatch } from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm/node';
import { BadInputError } from '../errors.ts';

export interface BatchAt {
  batch: RecordBatch;
  /** Row index (within the file) of the batch's first row. */
  firstRow: number;
  /** Row group (parquet) or batch (Arrow) index, for messages. */
  unit: number;
}

export async function assertReadable(path: string): Promise<void> {
  try {
    await access(path);
  } catch {
    throw new BadInputError(`${path}: input file not found`);
  }
}

async function openParquet(path: string): Promise<ParquetFile> {
  await assertReadable(path);
  try {
    return await catchWasmPanic(ParquetFile.fromFile(await openAsBlob(path)));
  } catch (err) {
    throw new BadInputError(`${path}: not a readable parquet file (${errText(err)}); the file is corrupt or truncated`);
  }
}

/**
 * Reads `columns` of a parquet file one row group at a time. Columns missing from the file are an error naming
 * them (a wrong file, not a bad row).
 */
export async function* readParquetBatches(path: string, required: string[], optional: string[] = []): AsyncGenerator<BatchAt> {
  const file = await openParquet(path);
  try {
    const meta = file.metadata();
    const groups = meta.numRowGroups();
    const rowsPerGroup: number[] = [];
    for (let g = 0; g < groups; g++) {
      const rg = meta.rowGroup(g);
      rowsPerGroup.push(rg.numRows());
      rg.free();
    }
    meta.free();
    const schema = file.schema();
    // Schema.indexOf throws (rather than returning -1) for an unknown name.
    const has = (c: string): boolean => {
      try {
        return schema.indexOf(c) >= 0;
      } catch {
        return false;
      }
    };
    const missing = required.filter((c) => !has(c));
    const columns = [...required, ...optional.filter(has)];
    schema.free();
    if (missing.length) throw new BadInputError(`${path}: parquet file lacks column(s) ${missing.map((c) => JSON.stringify(c)).join(', ')}`);
    let firstRow = 0;
    for (let g = 0; g < groups; g++) {
      let ipc: Uint8Array;
      try {
        const table = await catchWasmPanic(file.read({ rowGroups: [g], columns, batchSize: 1 << 30 }));
        ipc = table.intoIPCStream();
      } catch (err) {
        const panic = isWasmTrap(err) ? ' (the decoder aborted: a page of a column chunk is corrupt)' : '';
        throw new BadInputError(
          `${path}: row group ${g} (columns ${columns.join(', ')}) cannot be decoded${panic} (${errText(err)}); the file is corrupt or truncated`,
        );
      }
      const t = tableFromIPC(ipc);
      for (const batch of t.batches) {
        yield { batch, firstRow, unit: g };
        firstRow += batch.numRows;
      }
    }
  } finally {
    try {
      file.free();
    } catch {
      // After a trap the aborted read still holds the file; freeing it then throws. The thread is ended anyway.
    }
  }
}

/** Reads an Arrow IPC stream (HF save_to_disk shards) or IPC file, batch by batch, from disk. */
export async function* readArrowBatches(path: string): AsyncGenerator<BatchAt> {
  await assertReadable(path);
  await assertArrowComplete(path);
  let unit = 0;
  let firstRow = 0;
  let reader: AsyncIterable<RecordBatch>;
  try {
    reader = await RecordBatchReader.from(createReadStream(path, { highWaterMark: 1 << 22 }));
  } catch (err) {
    throw new BadInputError(`${path}: not an Arrow IPC file or stream (${errText(err)})`);
  }
  const it = reader[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<RecordBatch>;
    try {
      next = await it.next();
    } catch (err) {
      throw new BadInputError(`${path}: Arrow batch ${unit} cannot be read (${errText(err)}); the file is corrupt or truncated`);
    }
    if (next.done) break;
    const batch = next.value;
    if (unit === 0 && batch.numRows === 0 && batch.schema.fields.length === 0) {
      throw new BadInputError(`${path}: not an Arrow IPC file or stream (no schema)`);
    }
    yield { batch, firstRow, unit };
    firstRow += batch.numRows;
    unit++;
  }
  if (unit === 0) {
    // An empty reader means the bytes held no Arrow schema message at all.
    const r = reader as unknown as { schema?: { fields: unknown[] } };
    if (!r.schema) throw new BadInputError(`${path}: not an Arrow IPC file or stream (no schema message found)`);
  }
}

/**
 * parquet-wasm decodes inside a wasm-bindgen future; when the Rust decoder panics on a corrupt page the wasm trap
 * (`RuntimeError: unreachable`) is thrown from that future's callback as an uncaught exception, and the promise
 * of the read never settles. For the duration of one read, such a trap rejects the read instead (other uncaught
 * errors are re-raised as they were). The wasm instance is not to be trusted after a trap: the stage runs readers
 * in worker threads, and a thread whose task failed is terminated, never reused (core/worker-pool.ts).
 */
async function catchWasmPanic<T>(read: Promise<T>): Promise<T> {
  let onUncaught!: (err: unknown) => void;
  const trapped = new Promise<never>((_, reject) => {
    onUncaught = (err: unknown) => {
      if (isWasmTrap(err)) reject(err);
      else {
        process.off('uncaughtException', onUncaught);
        setImmediate(() => {
          throw err;
        });
      }
    };
  });
  process.on('uncaughtException', onUncaught);
  try {
    return await Promise.race([read, trapped]);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}

/** A WebAssembly trap (a Rust panic compiled to wasm ends in `unreachable`). */
function isWasmTrap(err: unknown): boolean {
  return err instanceof Error && err.name === 'RuntimeError';
}

export function errText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * A complete IPC stream ends with the end-of-stream marker (0xFFFFFFFF 0x00000000) and an IPC file with the
 * "ARROW1" magic. apache-arrow's reader stops quietly at a cut-off message, so truncation is checked up front.
 */
async function assertArrowComplete(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const tail = Buffer.alloc(Math.min(8, size));
    await fh.read(tail, 0, tail.length, size - tail.length);
    const isStream = tail.length === 8 && tail.readUInt32LE(0) === 0xffffffff && tail.readUInt32LE(4) === 0;
    const isFile = tail.subarray(tail.length - 6).toString('latin1') === 'ARROW1';
    if (!isStream && !isFile) {
      throw new BadInputError(`${path}: Arrow data does not end with an end-of-stream marker or file footer; the file is truncated or not Arrow IPC`);
    }
  } finally {
    await fh.close();
  }
}
