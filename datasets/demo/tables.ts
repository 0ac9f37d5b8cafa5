// Byte writers for the demo files: Arrow IPC streams (what HF save_to_disk writes for TACO) and parquet through
// parquet-wasm, for flat and nested schemas alike. Fixed writer properties and no timestamps, so the same rows
// give the same bytes.
import { makeData, RecordBatch, Struct, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Schema } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm/node';

function batchOf(schema: Schema, rows: readonly Record<string, unknown>[]): RecordBatch {
  const children = schema.fields.map((f) => vectorFromArray(rows.map((r) => r[f.name] ?? null), f.type).data[0]);
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
}

function tableOf(schema: Schema, rows: readonly Record<string, unknown>[], batchRows: number): Table {
  const batches: RecordBatch[] = [];
  for (let i = 0; i < rows.length; i += batchRows) batches.push(batchOf(schema, rows.slice(i, i + batchRows)));
  return batches.length ? new Table(batches) : new Table(schema);
}

/** An Arrow IPC stream with one record batch per `batchRows` rows. */
export function arrowStreamBytes(schema: Schema, rows: readonly Record<string, unknown>[], batchRows: number): Uint8Array {
  return tableToIPC(tableOf(schema, rows, batchRows), 'stream');
}

/** A parquet file with row groups of `rowGroupRows` rows. */
export function parquetBytes(schema: Schema, rows: readonly Record<string, unknown>[], rowGroupRows: number, compression: 'snappy' | 'zstd' = 'snappy'): Uint8Array {
  const ipc = tableToIPC(tableOf(schema, rows, rowGroupRows), 'stream');
  const props = new WriterPropertiesBuilder()
    .setCompression(compression === 'zstd' ? Compression.ZSTD : Compression.SNAPPY)
    .setMaxRowGroupSize(rowGroupRows)
    .setCreatedBy('agentrl demo data')
    .build();
  return writeParquet(WasmTable.fromIPCStream(ipc), props);
}
