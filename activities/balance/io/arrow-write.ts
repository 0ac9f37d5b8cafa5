// Builds record batches for a declared schema from column arrays and streams them to an Arrow IPC stream file.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import { makeData, RecordBatch, RecordBatchStreamWriter, Struct, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Schema } from 'apache-arrow';
import { commitContentAddressed, tempPathFor } from '../../artifacts.ts';
import type { ArtifactRef } from '../../../schemas/artifact.ts';

/** Column-wise row buffer for one schema; int64 fields take numbers and are converted once per batch. */
export class ColumnBuffer {
  readonly columns: unknown[][];
  constructor(readonly schema: Schema) {
    this.columns = schema.fields.map(() => []);
  }

  get length(): number {
    return this.columns[0].length;
  }

  /** Appends one row given in schema field order. */
  push(...values: unknown[]): void {
    for (let i = 0; i < this.columns.length; i++) this.columns[i].push(values[i]);
  }

  /** Takes the buffered rows as a record batch and empties the buffer. */
  flush(): RecordBatch {
    const batch = buildBatch(this.schema, this.columns);
    for (const c of this.columns) c.length = 0;
    return batch;
  }
}

export function buildBatch(schema: Schema, columns: unknown[][]): RecordBatch {
  const length = columns[0]?.length ?? 0;
  const children = schema.fields.map((f, i) => {
    const values = String(f.type) === 'Int64' ? columns[i].map((v) => (v === null ? null : BigInt(v as number))) : columns[i];
    return vectorFromArray(values, f.type).data[0];
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length, nullCount: 0, children }));
}

/**
 * An Arrow IPC stream written batch by batch to a temporary file, then committed content-addressed. A file with
 * no rows still carries the schema (one empty batch), so every reader sees the declared columns.
 */
export class IpcStreamFile {
  private readonly writer = new RecordBatchStreamWriter();
  private readonly tmp: string;
  private readonly done: Promise<void>;
  private wrote = false;
  rows = 0;

  private constructor(
    readonly schema: Schema,
    readonly dir: string,
    readonly stem: string,
  ) {
    this.tmp = tempPathFor(`${dir}/${stem}.arrow`);
    const out = createWriteStream(this.tmp);
    this.done = finished(this.writer.toNodeStream().pipe(out));
  }

  static async create(schema: Schema, dir: string, stem: string): Promise<IpcStreamFile> {
    await mkdir(dir, { recursive: true });
    await mkdir(dirname(tempPathFor(`${dir}/${stem}.arrow`)), { recursive: true });
    return new IpcStreamFile(schema, dir, stem);
  }

  write(batch: RecordBatch): void {
    if (batch.numRows === 0 && this.wrote) return;
    this.writer.write(batch);
    this.wrote = true;
    this.rows += batch.numRows;
  }

  async commit(): Promise<ArtifactRef> {
    if (!this.wrote) this.writer.write(buildBatch(this.schema, this.schema.fields.map(() => [])));
    this.writer.finish();
    await this.done;
    return commitContentAddressed(this.tmp, this.dir, this.stem, 'arrow', this.rows);
  }
}

/** Serialises a whole (small) table as one IPC stream. */
export function tableToStreamBytes(batches: RecordBatch[], schema: Schema): Uint8Array {
  return tableToIPC(batches.length ? new Table(batches) : new Table(schema), 'stream');
}
