// Builds record batches for a declared schema from column arrays and streams them to an Arrow IPC stream file.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import { DataType, makeData, RecordBatch, RecordBatchStreamWriter, Struct, vectorFromArray } from 'apache-arrow';
import type { Schema } from 'apache-arrow';
import { tempPathFor } from '../../core/atomic-write.ts';
import { commitContentAddressed } from '../artifacts.ts';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import { Int64Column, Utf8Column } from './column-builders.ts';

/**
 * Column-wise row buffer for a flat schema of Utf8 and Int64 fields (the stage's intermediate files), built with
 * the direct builders of column-builders.ts. `column(i)` gives a field's builder for callers that append byte
 * slices; rows must stay aligned (every column gets one value per row).
 */
export class ColumnBuffer {
  private readonly builders: (Utf8Column | Int64Column)[];
  constructor(readonly schema: Schema) {
    this.builders = schema.fields.map((f) => {
      if (DataType.isUtf8(f.type)) return new Utf8Column();
      if (DataType.isInt(f.type) && f.type.bitWidth === 64) return new Int64Column();
      throw new Error(`ColumnBuffer: field "${f.name}" has type ${String(f.type)}; only Utf8 and Int64 are supported`);
    });
  }

  get length(): number {
    return this.builders[0].length;
  }

  /** Total UTF-8 bytes buffered (to bound batch size). */
  get byteLength(): number {
    let n = 0;
    for (const b of this.builders) if (b instanceof Utf8Column) n += b.byteLength;
    return n;
  }

  utf8(i: number): Utf8Column {
    return this.builders[i] as Utf8Column;
  }

  int64(i: number): Int64Column {
    return this.builders[i] as Int64Column;
  }

  /** Appends one row given in schema field order. */
  push(...values: unknown[]): void {
    for (let i = 0; i < this.builders.length; i++) {
      const b = this.builders[i];
      if (b instanceof Utf8Column) b.push(values[i] as string | null);
      else b.push(values[i] as number);
    }
  }

  /** Takes the buffered rows as a record batch and empties the buffer. */
  flush(): RecordBatch {
    const length = this.length;
    const children = this.builders.map((b) => b.flush());
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length, nullCount: 0, children }));
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

  /** Gives up the file: the temporary file is removed (a failed step leaves no half-written parts behind). */
  async abort(): Promise<void> {
    try {
      this.writer.finish();
      await this.done;
    } catch {
      // A stream that already failed has nothing left to flush; the file goes either way.
    }
    await rm(this.tmp, { force: true });
  }

  async commit(): Promise<ArtifactRef> {
    if (!this.wrote) this.writer.write(buildBatch(this.schema, this.schema.fields.map(() => [])));
    this.writer.finish();
    await this.done;
    return commitContentAddressed(this.tmp, this.dir, this.stem, 'arrow', this.rows);
  }
}
