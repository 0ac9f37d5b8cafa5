// Ingestion of one source (runs inside worker threads): each input file becomes two content-addressed part
// files (candidates + rejects); finishIngest concatenates them in input-file order. Progress lists the finished
// files with their parts, so a resumed attempt reuses them after checking their sha256, and the final files are
// the same bytes either way (and whichever thread read which file).
import { isAscii } from 'node:buffer';
import { stat } from 'node:fs/promises';
import type { RecordBatch } from 'apache-arrow';
import type { InputFileRecord } from '../../schemas/artifact.ts';
import { CANDIDATE_SCHEMA, REJECT_SCHEMA } from '../../schemas/balance.ts';
import { domainOf } from '../../schemas/recipe.ts';
import type { SourceConfig, SourceFormat } from '../../schemas/recipe.ts';
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
import { checkColumnType, validateStringColumn } from '../io/validate.ts';
import { verifiedRef } from '../artifacts.ts';
import { concatIpc } from '../io/ipc-parts.ts';
import { contentKey, contentKeyAscii, rowUid } from './normalise.ts';

import { ProgressTracker } from './progress.ts';
import { sourceFileIds } from './source-file.ts';
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
  /** The file's lineage identity (source-file.ts): recorded as source_file / file in every row it yields. */
  sourceFile: string;
  workDir: string;
  /** The part an earlier attempt recorded for this path (from its progress), reused if its digests still hold. */
  previous?: FilePart;
}

/** One input file -> its part files: reused from `previous` when input and parts are unchanged, else read. */
export async function ingestPart(args: PartArgs, onRows?: (rows: number) => void): Promise<FilePart> {
  const { source, path, sourceFile, previous } = args;
  const input = await hashInput(path);
  // A part made when the source listed other files may carry another identity (source-file.ts): not reused then.
  if (previous && previous.input.path === path && previous.input.sha256 === input.sha256 && previous.sourceFile === sourceFile) {
    const cand = await verifiedRef(previous.candidates);
    const rej = await verifiedRef(previous.rejects);
    if (cand && rej) return { ...previous, candidates: cand, rejects: rej };
  }
  onRows?.(0);
  return ingestFile(source, path, sourceFile, input, `${args.workDir}/parts/${source.name}`, (rows) => onRows?.(rows));
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
  /** Resolved absolute paths (resolveSourceFiles). */
  files: string[];
  workDir: string;
  resume?: unknown;
  onProgress?: (p: IngestProgress) => void;
}): Promise<IngestResult> {
  const { source, files } = args;
  const tracker = new ProgressTracker(source, files, args.resume);
  const ids = sourceFileIds(files);
  for (let i = 0; i < files.length; i++) {
    const part = await ingestPart(
      { source, path: files[i], sourceFile: ids[i], workDir: args.workDir, previous: tracker.previous(files[i]) },
      (rows) => args.onProgress?.(tracker.reading(files[i], rows)),
    );
    const report = tracker.finished(i, part); // recorded whether or not anyone listens
    args.onProgress?.(report);
  }
  return finishIngest({ source: source.name, parts: tracker.parts(), workDir: args.workDir });
}

async function hashInput(path: string): Promise<InputFileRecord> {
  try {
    const sha256 = await sha256File(path);
    const { size } = await stat(path);
    if (size === 0) throw new BadInputError(`${path}: input file is empty (0 bytes)`);
    return { path, sha256, bytes: size };
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new BadInputError(`${path}: ${code === 'ENOENT' ? 'input file not found' : `cannot read input file (${(err as Error).message})`}`);
  }
}

/** Reads one input file through its format's reader and filters, writing the two part files. */
async function ingestFile(
  source: SourceConfig,
  path: string,
  sourceFile: string,
  input: InputFileRecord,
  partsDir: string,
  onRows: (rows: number) => void,
): Promise<FilePart> {
  const candOut = await IpcStreamFile.create(CANDIDATE_SCHEMA, partsDir, 'cand');
  const rejOut = await IpcStreamFile.create(REJECT_SCHEMA, partsDir, 'rej');
  try {
    return await readInto(source, path, sourceFile, input, candOut, rejOut, onRows);
  } catch (err) {
    await Promise.all([candOut.abort(), rejOut.abort()]);
    throw err;
  }
}

/** Filters rows into the two part files of one input file, keeping the counts. */
class PartBuilder {
  readonly counts: IngestCounts = { read: 0, rejected: {}, eligible: 0 };
  private readonly cand = new ColumnBuffer(CANDIDATE_SCHEMA);
  private readonly rej = new ColumnBuffer(REJECT_SCHEMA);
  private readonly ability: string;
  constructor(
    private readonly source: SourceConfig,
    private readonly sourceFile: string,
    private readonly candOut: IpcStreamFile,
    private readonly rejOut: IpcStreamFile,
  ) {
    this.ability = domainOf(source.format);
  }

  reject(row: number, reason: string, detail: string): void {
    this.counts.read++;
    this.counts.rejected[reason] = (this.counts.rejected[reason] ?? 0) + 1;
    this.rej.push(this.source.name, this.sourceFile, row, reason, detail, null);
    if (this.rej.length >= BATCH_ROWS) this.rejOut.write(this.rej.flush());
  }

  /**
   * One row through the format's filters. `raw` is the problem column's bytes when read from Arrow/parquet: they
   * are copied into the candidates as they are and, when ASCII, normalised + hashed without a decode/encode round
   * trip.
   */
  add(row: number, get: FieldGetter, raw: Utf8Slices | null, rawRow: number): void {
    const v = extractRow(this.source.format, get, this.source.filters);
    if (!v.ok) return this.reject(row, v.reason, v.detail);
    this.counts.read++;
    const r = v.row;
    let key: string;
    let start = 0;
    let end = 0;
    const ascii = raw !== null && isAscii(raw.bytes.subarray((start = raw.offsets[rawRow]), (end = raw.offsets[rawRow + 1])));
    if (ascii) key = contentKeyAscii(raw!.bytes, start, end);
    else key = contentKey(r.problem);
    const cand = this.cand;
    cand.utf8(0).push(rowUid(this.source.name, key, r.groundTruth));
    cand.utf8(1).push(this.source.name);
    cand.utf8(2).push(this.ability);
    cand.utf8(3).push(key);
    if (ascii) cand.utf8(4).pushBytes(raw!.bytes, start, end);
    else cand.utf8(4).push(r.problem);
    cand.utf8(5).push(r.starterCode);
    cand.utf8(6).push(r.groundTruth);
    cand.utf8(7).push(this.sourceFile);
    cand.int64(8).push(row);
    cand.utf8(9).push(r.nativeId);
    cand.utf8(10).push(r.difficulty);
    cand.utf8(11).push(r.tags ? JSON.stringify(r.tags) : null);
    this.counts.eligible++;
    if (cand.length >= BATCH_ROWS || cand.byteLength >= BATCH_BYTES) this.candOut.write(cand.flush());
  }

  async commit(input: InputFileRecord): Promise<FilePart> {
    if (this.cand.length) this.candOut.write(this.cand.flush());
    if (this.rej.length) this.rejOut.write(this.rej.flush());
    return { input, sourceFile: this.sourceFile, ...this.counts, candidates: await this.candOut.commit(), rejects: await this.rejOut.commit() };
  }
}

async function readInto(
  source: SourceConfig,
  path: string,
  sourceFile: string,
  input: InputFileRecord,
  candOut: IpcStreamFile,
  rejOut: IpcStreamFile,
  onRows: (rows: number) => void,
): Promise<FilePart> {
  const part = new PartBuilder(source, sourceFile, candOut, rejOut);
  if (source.format === 'deepscaler_json' || source.format === 'omni_math_jsonl' || source.format === 'leetcode_jsonl') {
    for await (const rec of readJsonRecords(path)) {
      const value = rec.value;
      if (rec.invalid !== undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
        part.reject(rec.row, 'malformed_row', rec.invalid ?? `record at line ${rec.line} is not a JSON object`);
        continue;
      }
      const obj = value as Record<string, unknown>;
      part.add(rec.row, (name) => obj[name], null, 0);
      if (part.counts.read % BATCH_ROWS === 0) onRows(part.counts.read);
    }
  } else {
    const cols = COLUMNS[source.format]!;
    const batches: AsyncGenerator<BatchAt> =
      source.format === 'numina_parquet' || source.format === 'taco_parquet' ? readParquetBatches(path, cols.required, cols.optional) : readArrowBatches(path);
    const validate = source.format === 'taco_arrow';
    for await (const { batch, firstRow, unit } of batches) {
      const vectors = columnVectors(batch, cols, path, validate ? `Arrow batch ${unit}` : null);
      const raw = utf8Slices(batch.getChild(cols.problem));
      let i = 0;
      const get: FieldGetter = (name) => vectors.get(name)?.(i);
      for (; i < batch.numRows; i++) part.add(firstRow + i, get, raw, i);
      onRows(part.counts.read);
    }
  }
  return part.commit(input);
}

/**
 * Getters for the format's columns in one batch, after checking each column's type and, for Arrow shards
 * (`unit` names the batch; parquet-wasm validates what it decodes itself), its offsets and UTF-8.
 */
function columnVectors(batch: RecordBatch, cols: NonNullable<(typeof COLUMNS)[SourceFormat]>, path: string, unit: string | null): Map<string, CellGetter> {
  const map = new Map<string, CellGetter>();
  for (const name of [...cols.required, ...cols.optional]) {
    const v = batch.getChild(name);
    const required = cols.required.includes(name);
    if (!v) {
      if (required) throw new BadInputError(`${path}: Arrow data lacks column "${name}"`);
      continue;
    }
    checkColumnType(path, name, v, cols.bool?.includes(name) ? 'bool' : 'string', required);
    if (unit !== null) validateStringColumn(path, unit, name, v);
    map.set(name, cellGetter(v));
  }
  return map;
}
