// Parquet bytes of an Arrow table with fixed writer settings (no timestamps, created_by pinned), so the same
// rows always give the same bytes.
import { tableToIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';

export function parquetBytes(table: Table): Uint8Array {
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).setWriterVersion(WriterVersion.V1).setCreatedBy('agentrl training').build();
  return writeParquet(WasmTable.fromIPCStream(tableToIPC(table, 'stream')), props);
}
