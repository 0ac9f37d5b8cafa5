// Ingestion of one source (runs inside worker threads): each input file becomes two content-addressed part
// files (candidates + rejects); finishIngest concatenates them in input-file order. Progress lists the finished
// files with their parts, so a resumed attempt reuses them after checking their sha256, and the final files are
// the same bytes either way (and whichever thread read which file).
import { isAscii } from 'node:buffer';
import { relative } from 'node:path';
import type { RecordBatch } from 'apache-arrow';
import type { InputFileRecord } from '../../schemas/artifact.ts';
import { CANDIDATE_SCHEMA, REJECT_SCHEMA } from '../../schemas/balance.ts';
import { domainOf } from '../../schemas/recipe.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import { sha256File } from '../../core/digest.ts';
import { BadInputError } from '../errors.ts';
import { COLUMNS, extractRow } from './filters.ts';
import type { FieldGetter } from './filters.ts';
import { readArrowBatches, readParquetBatches } from '../io/arrow-batches.ts';
import type { BatchAt } from '../io/arrow-batches.ts';
import { ColumnBuffer, IpcStreamFile } from '../io/arrow-write.ts';
import { cellGetter, utf8Slices } from '../io/fast-columns.ts';
import type { CellGetter, Utf8Slices } from '../io/fast-columns.ts';
import { readJsonRecords } from '../io/json-records.ts';
import { concatIpc, verifiedRef } from '../io/ipc-parts.ts';
import { contentKey, contentKeyAscii, rowUid } from './normalise.ts';

import { ProgressTracker } from './progress.ts';
import type { FilePart, IngestCounts, IngestProgress, IngestResult } from './progress.ts';

export type { FilePart, IngestCounts, IngestProgress, IngestResult } from './progress.ts';
export { configDigest, isIngestProgress } from './progress.ts';

// ingestFile appends candidate columns by position (no per-row arrays); this is the order it assumes.
const CANDIDATE_ORDER = 'uid,data_source,ability,content_key,problem,starter_code,ground_truth,source_file,source_row,native_id,difficulty,tags';
if (CANDIDATE_SCHEMA.fields.map((f) => f.name).join(',') !== CANDIDATE_ORDER) throw new Error('CANDIDATE_SCHEMA changed: update ingestFile');

// Flush a batch at this many rows or this many buffered string bytes (TACO tests reach tens of MB per row).
const BATCH_ROWS = 4096;
const BATCH_BYTES = 64 << 20;

export interface PartArgs {
  source: SourceConfig;
  path: string;
  baseDir: string;
  workDir: string;
  /** The part an earlier attempt recorded for this path (from its progress), reused if its digests still hold. */
  previous?: FilePart;
}

/** One input file -> its part files: reused from `previous` when input and parts are unchanged, else read. */
export async function ingestPart(args: PartArgs, onRows?: (rows: number) => void): Promise<FilePart> {
  const { source, path, previous } = args;
  const input = await hashInput(path);
  if (previous && previous.input.path === path && previous.input.sha256 === input.sha256) {
    const cand = await verifiedRef(previous.candidates);
    const rej = await verifiedRef(previous.rejects);
    if (cand && rej) return { ...previous, candidates: cand, rejects: rej };
  }
  onRows?.(0);
  const relPath = relative(args.baseDir, path).split('\\').join('/');
  return ingestFile(source, path, relPath, input, `${args.workDir}/parts/${source.name}`, (rows) => onRows?.(rows));
}

/** The source's totals and its two files: the parts concatenated in input-file order. */
export async function finishIngest(args: { source: string; parts: FilePart[]; workDir: string }): Promise<IngestResult> {
  const { source, parts, workDir } = args;
  const counts: IngestCounts = { read: 0, rejected: {}, eligible: 0 };
  for (const p of parts) {
    counts.read += p.read;
    counts.eligible += p.eligible;
    for (const [reason, n] of Object.entries(p.rejected)) counts.rejected[reason] = (counts.rejected[reason] ?? 0) + n;
  }
  const candidates = await concatIpc(parts.map((p) => p.candidates), CANDIDATE_SCHEMA, workDir, `candidates-${source}`);
  const rejects = await concatIpc(parts.map((p) => p.rejects), REJECT_SCHEMA, workDir, `ingest-rejects-${source}`);
  return { source, candidates, rejects, inputs: parts.map((p) => p.input), counts };
}

/** All of a source's files one after another in this thread (the single-lane path), then finishIngest. */
export async function ingestFiles(args: {
  source: SourceConfig;
  files: string[];
  baseDir: string;
  workDir: string;
  resume?: unknown;
  onProgress?: (p: IngestProgress) => void;
}): Promise<IngestResult> {
  const { source, files } = args;
  const tracker = new ProgressTracker(source, files, args.resume);
  for (let i = 0; i < files.length; i++) {
    const part = await ingestPart({ ...args, path: files[i], previous: tracker.previous(files[i]) }, (rows) => args.onProgress?.(tracker.reading(files[i], rows)));
    const report = tracker.finished(i, part); // recorded whether or not anyone listens
    args.onProgress?.(report);
  }
  return finishIngest({ source: source.name, parts: tracker.parts(), workDir: args.workDir });
}

async function hashInput(path: string): Promise<InputFileRecord> {
  try {
    const sha256 = await sha256File(path);
    const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));
    return { path, sha256, bytes: size };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(`${path}: ${code === 'ENOENT' ? 'input file not found' : `cannot read input file (${(err as Error).message})`}`);
  }
}

/** Reads one input file through its format's reader and filters, writing the two part files. */
async function ingestFile(
  source: SourceConfig,
  path: string,
  relPath: string,
  input: InputFileRecord,
  partsDir: string,
  onRows: (rows: number) => void,
): Promise<FilePart> {
  const counts: IngestCounts = { read: 0, rejected: {}, eligible: 0 };
  const candOut = await IpcStreamFile.create(CANDIDATE_SCHEMA, partsDir, 'cand');
  const rejOut = await IpcStreamFile.create(REJECT_SCHEMA, partsDir, 'rej');
  const cand = new ColumnBuffer(CANDIDATE_SCHEMA);
  const rej = new ColumnBuffer(REJECT_SCHEMA);
  const ability = domainOf(source.format);
  // The problem column's bytes for the current row when read from Arrow/parquet: copied into the candidates as
  // they are and, when ASCII, normalised + hashed without a decode/encode round trip.
  let raw: Utf8Slices | null = null;
  let rawRow = 0;

  const handle = (row: number, get: FieldGetter): void => {
    counts.read++;
    const v = extractRow(source.format, get, source.filters);
    if (!v.ok) {
      counts.rejected[v.reason] = (counts.rejected[v.reason] ?? 0) + 1;
      rej.push(source.name, relPath, row, v.reason, v.detail, null);
      if (rej.length >= BATCH_ROWS) rejOut.write(rej.flush());
      return;
    }
    const r = v.row;
    let key: string;
    let start = 0;
    let end = 0;
    const ascii = raw !== null && isAscii(raw.bytes.subarray((start = raw.offsets[rawRow]), (end = raw.offsets[rawRow + 1])));
    if (ascii) key = contentKeyAscii(raw!.bytes, start, end);
    else key = contentKey(r.problem);
    cand.utf8(0).push(rowUid(source.name, key, r.groundTruth));
    cand.utf8(1).push(source.name);
    cand.utf8(2).push(ability);
    cand.utf8(3).push(key);
    if (ascii) cand.utf8(4).pushBytes(raw!.bytes, start, end);
    else cand.utf8(4).push(r.problem);
    cand.utf8(5).push(r.starterCode);
    cand.utf8(6).push(r.groundTruth);
    cand.utf8(7).push(relPath);
    cand.int64(8).push(row);
    cand.utf8(9).push(r.nativeId);
    cand.utf8(10).push(r.difficulty);
    cand.utf8(11).push(r.tags ? JSON.stringify(r.tags) : null);
    counts.eligible++;
    if (cand.length >= BATCH_ROWS || cand.byteLength >= BATCH_BYTES) candOut.write(cand.flush());
  };

  if (source.format === 'deepscaler_json' || source.format === 'omni_math_jsonl' || source.format === 'leetcode_jsonl') {
    for await (const rec of readJsonRecords(path)) {
      const value = rec.value;
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        counts.read++;
        counts.rejected.malformed_row = (counts.rejected.malformed_row ?? 0) + 1;
        rej.push(source.name, relPath, rec.row, 'malformed_row', `record at line ${rec.line} is not a JSON object`, null);
        continue;
      }
      const obj = value as Record<string, unknown>;
      handle(rec.row, (name) => obj[name]);
      if (counts.read % BATCH_ROWS === 0) onRows(counts.read);
    }
  } else {
    const cols = COLUMNS[source.format]!;
    const batches: AsyncGenerator<BatchAt> =
      source.format === 'numina_parquet' || source.format === 'taco_parquet' ? readParquetBatches(path, cols.required, cols.optional) : readArrowBatches(path);
    for await (const { batch, firstRow } of batches) {
      const vectors = columnVectors(batch, cols.required, cols.optional, path);
      raw = utf8Slices(batch.getChild(cols.problem));
      let i = 0;
      const get: FieldGetter = (name) => vectors.get(name)?.(i);
      for (; i < batch.numRows; i++) {
        rawRow = i;
        handle(firstRow + i, get);
      }
      onRows(counts.read);
    }
  }
  if (cand.length) candOut.write(cand.flush());
  if (rej.length) rejOut.write(rej.flush());
  return { input, ...counts, candidates: await candOut.commit(), rejects: await rejOut.commit() };
}

function columnVectors(batch: RecordBatch, required: string[], optional: string[], path: string): Map<string, CellGetter> {
  const map = new Map<string, CellGetter>();
  for (const name of [...required, ...optional]) {
    const v = batch.getChild(name);
    if (v) map.set(name, cellGetter(v));
    else if (required.includes(name)) throw new BadInputError(`${path}: Arrow data lacks column "${name}"`);
  }
  return map;
}
