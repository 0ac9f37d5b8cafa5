// Makers of damaged input files for the bad-input tests, written at test time from the generated fixtures: byte
// edits of real files at places read from the files' own metadata, or files written by the real writers
// (apache-arrow, parquet-wasm) with the wrong types or broken offsets. Nothing here is committed binary data.
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bool, Field, Int64, makeData, RecordBatch, RecordBatchStreamWriter, Schema, Struct, Utf8 } from 'apache-arrow';
import { parquetMetadata } from 'hyparquet';
import { parquetBytes, schemaOf } from '../fixtures/balance/arrow.ts';
import type { Column } from '../fixtures/balance/arrow.ts';

export function firstFile(dir: string): string {
  return join(dir, readdirSync(dir).sort()[0]);
}

/**
 * Overwrites bytes inside the first page of `column`'s chunk in row group `group` (its dictionary page when the
 * chunk has one, else its first data page), leaving the footer (and so the schema and row counts) intact.
 */
export function corruptParquetPage(path: string, column: string, group: number): string {
  const buf = readFileSync(path);
  const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const chunk = meta.row_groups[group].columns.find((c) => c.meta_data?.path_in_schema.join('.') === column)?.meta_data;
  if (!chunk) throw new Error(`${path}: no column ${column} in row group ${group}`);
  const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset);
  const size = Number(chunk.total_compressed_size);
  // Past the page header (a few dozen bytes), inside the compressed values.
  const from = start + Math.min(40, Math.floor(size / 4));
  for (let i = from; i < Math.min(from + 64, start + size); i++) buf[i] = 0xab;
  writeFileSync(path, buf);
  return path;
}

/** Replaces two bytes of `text` (which must occur in the file) with 0xff 0xfe: invalid UTF-8, lengths unchanged. */
export function breakUtf8Of(path: string, text: string): void {
  const buf = readFileSync(path);
  const at = buf.indexOf(Buffer.from(text, 'utf8'));
  if (at < 0) throw new Error(`${path}: text not found`);
  buf[at + 1] = 0xff;
  buf[at + 2] = 0xfe;
  writeFileSync(path, buf);
}

export function gzipInPlace(path: string): void {
  writeFileSync(path, gzipSync(readFileSync(path)));
}

export function prependBom(path: string): void {
  writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(path)]));
}

const NUMINA: Column[] = [
  { name: 'problem', type: 'string' }, { name: 'answer', type: 'string' }, { name: 'question_type', type: 'string' },
  { name: 'problem_is_valid', type: 'string' }, { name: 'solution_is_valid', type: 'string' }, { name: 'synthetic', type: 'bool' },
];

function numinaRows(n: number, typed: 'answer-int64' | 'flags-bool'): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    problem: `Find the value of x when ${i} + x = ${2 * i + 1}.`,
    answer: typed === 'answer-int64' ? BigInt(i + 1) : String(i + 1),
    question_type: 'math-word-problem',
    problem_is_valid: typed === 'flags-bool' ? true : 'Yes',
    solution_is_valid: typed === 'flags-bool' ? true : 'Yes',
    synthetic: false,
  }));
}

/** A NuminaMath-shaped parquet file whose `answer` is int64, or whose validity flags are bool. */
export function numinaWithTypes(path: string, typed: 'answer-int64' | 'flags-bool'): void {
  const base = schemaOf(NUMINA);
  const fields = base.fields.map((f) => {
    if (typed === 'answer-int64' && f.name === 'answer') return new Field('answer', new Int64(), true);
    if (typed === 'flags-bool' && f.name.endsWith('_is_valid')) return new Field(f.name, new Bool(), true);
    return f;
  });
  writeFileSync(path, parquetBytes(new Schema(fields), numinaRows(50, typed), 25, 'snappy'));
}

/** A TACO-shaped Arrow stream whose second batch's `question` offsets go backwards (as a damaged shard reads). */
export function tacoWithBrokenOffsets(path: string): void {
  const schema = new Schema([new Field('question', new Utf8(), true), new Field('input_output', new Utf8(), true)]);
  const io = JSON.stringify({ inputs: ['1\n'], outputs: ['1\n'] });
  const utf8 = (values: string[], offsets?: number[]) => {
    const bytes = Buffer.from(values.join(''));
    let at = 0;
    const good = [0, ...values.map((v) => (at += Buffer.byteLength(v)))];
    return makeData({ type: new Utf8(), length: values.length, nullCount: 0, valueOffsets: Int32Array.from(offsets ?? good), data: bytes });
  };
  const batch = (q: ReturnType<typeof utf8>) =>
    new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: 3, nullCount: 0, children: [q, utf8([io, io, io])] }));
  const writer = new RecordBatchStreamWriter();
  writer.write(batch(utf8(['Print one.', 'Print two.', 'Print three.'])));
  writer.write(batch(utf8(['Print one.', 'Print two.', 'Print three.'], [0, 10, 4, 32])));
  writer.finish();
  writeFileSync(path, writer.toUint8Array(true));
}
