// The stage's published outputs: the verl RL parquet (+ the same rows as an Arrow IPC file for later stages) and
// the rejects table. Parquet goes through parquet-wasm with fixed writer properties (no timestamps; created_by
// pinned), so the same rows always give the same bytes.
import { join } from 'node:path';
import { tableToIPC, Table } from 'apache-arrow';
import type { RecordBatch, Schema } from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, WriterVersion, writeParquet } from 'parquet-wasm/node';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import { REJECT_SCHEMA, RL_SCHEMA, SELECTED_SCHEMA } from '../../schemas/balance.ts';
import { verifyArtifact, writeNamedArtifact } from '../artifacts.ts';
import { BadInputError } from '../errors.ts';
import { buildBatch } from '../io/arrow-write.ts';
import { readIpc } from '../io/ipc-parts.ts';

/** Expands the recipe's per-domain template: `{problem}`, and for code `{starter_code_block}`. */
export function renderPrompt(template: string, problem: string, starterCode: string | null): string {
  const block = starterCode && starterCode.trim() !== '' ? `\`\`\`python\n${starterCode.replace(/\s+$/u, '')}\n\`\`\`\n` : '';
  // A function replacer: `$` sequences in problem text must not be read as replacement patterns.
  return template.replace(/\{(problem|starter_code_block)\}/gu, (_m, name: string) => (name === 'problem' ? problem : block));
}

function parquetBytes(batches: RecordBatch[], schema: Schema): Uint8Array {
  const ipc = tableToIPC(batches.length ? new Table(batches) : new Table(schema), 'stream');
  const wasmTable = WasmTable.fromIPCStream(ipc);
  const props = new WriterPropertiesBuilder()
    .setCompression(Compression.ZSTD)
    .setWriterVersion(WriterVersion.V1)
    .setCreatedBy('agentrl balance')
    .setMaxRowGroupSize(64 * 1024)
    .build();
  // writeParquet consumes the table and the properties.
  return writeParquet(wasmTable, props);
}

export async function writeRl(args: {
  selected: ArtifactRef;
  templates: { math: string; code: string };
  agentName: string;
  split: string;
  outDir: string;
}): Promise<{ parquet: ArtifactRef; arrow: ArtifactRef }> {
  await verifyArtifact(args.selected);
  const cols: unknown[][] = RL_SCHEMA.fields.map(() => []);
  let index = 0;
  for await (const batch of readIpc(args.selected, SELECTED_SCHEMA)) {
    const get = (name: string) => batch.getChild(name)!;
    const [src, ability, problem, starter, gt, file, row, nid, diff, tags, uid] = [
      'data_source', 'ability', 'problem', 'starter_code', 'ground_truth', 'source_file', 'source_row', 'native_id', 'difficulty', 'tags', 'uid',
    ].map(get);
    for (let i = 0; i < batch.numRows; i++) {
      const ab = ability.get(i) as string;
      if (ab !== 'math' && ab !== 'code') throw new BadInputError(`${args.selected.path}: row ${index} has ability "${ab}"`);
      const template = ab === 'math' ? args.templates.math : args.templates.code;
      const tagText = tags.get(i) as string | null;
      const values = [
        src.get(i),
        [{ role: 'user', content: renderPrompt(template, problem.get(i) as string, starter.get(i) as string | null) }],
        ab,
        { style: 'rule', ground_truth: gt.get(i) },
        {
          split: args.split,
          index,
          uid: uid.get(i),
          source_file: file.get(i),
          source_row: row.get(i),
          native_id: nid.get(i),
          difficulty: diff.get(i),
          tags: tagText === null ? null : (JSON.parse(tagText) as string[]),
        },
        args.agentName,
      ];
      values.forEach((v, c) => cols[c].push(v));
      index++;
    }
  }
  const extra = cols[4] as { index: number | bigint }[];
  for (const e of extra) e.index = BigInt(e.index);
  const batch = buildBatch(RL_SCHEMA, cols);
  const arrowBytes = tableToIPC(new Table([batch]), 'file');
  const parquet = await writeNamedArtifact(join(args.outDir, 'rl.parquet'), parquetBytes([batch], RL_SCHEMA), 'parquet', index);
  const arrow = await writeNamedArtifact(join(args.outDir, 'rl.arrow'), arrowBytes, 'arrow', index);
  return { parquet, arrow };
}

export async function writeRejects(args: { rejects: ArtifactRef[]; outDir: string }): Promise<ArtifactRef> {
  for (const ref of args.rejects) await verifyArtifact(ref);
  const batches: RecordBatch[] = [];
  let rows = 0;
  for (const ref of args.rejects) {
    for await (const batch of readIpc(ref, REJECT_SCHEMA)) {
      if (batch.numRows === 0) continue;
      batches.push(batch);
      rows += batch.numRows;
    }
  }
  const bytes = parquetBytes(batches, REJECT_SCHEMA);
  return writeNamedArtifact(join(args.outDir, 'rejects.parquet'), bytes, 'parquet', rows);
}
