// The GRPO metrics table: one row per RL step, one float64 column per metric name (verl's names), columns in
// sorted order so the file's layout does not depend on which step logged a name first. A name a step did not
// log is null there.
import { Float64, Int32, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import type { MetricRow } from '../agent/index.ts';

export function metricsTableBytes(rows: readonly MetricRow[]): Uint8Array {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((n) => n !== 'step').sort();
  const columns: Record<string, ReturnType<typeof vectorFromArray>> = { step: vectorFromArray(rows.map((r) => r.step), new Int32()) };
  for (const n of names) columns[n] = vectorFromArray(rows.map((r) => (n in r ? r[n] : null)), new Float64());
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setWriterVersion(WriterVersion.V1).setCreatedBy('agentrl grpo').build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(new Table(columns), 'stream')), props);
}
