// Streams a multi-turn SFT file (verl parquet or JSON lines of the same shape) into tokenised, masked,
// right-truncated Arrow batches (schemas/sft.ts). Parquet is read one row group at a time through a
// file-backed Blob, so memory stays bounded by the largest row group plus one output batch. Rows that
// fail validation or rendering go to `rejects` with file, row, a fixed reason (REJECT_REASONS, what the audit
// counts) and a detail naming the message or field; only file-level problems throw. Under multiTurn
// 'per_turn' one row may give several samples (turn_index tells them apart).
import { createReadStream, existsSync, openAsBlob } from 'node:fs';
import { createInterface } from 'node:readline';
import { tableFromIPC, Vector } from 'apache-arrow';
import type { RecordBatch } from 'apache-arrow';
import { ParquetFile } from 'parquet-wasm/node';
import { makeSftBatch } from '../../schemas/sft.ts';
import type { SftSample } from '../../schemas/sft.ts';
import { ChatProtocolError } from '../errors.ts';
import { DEFAULT_MULTI_TURN, encodeConversationSamples, UnusableConversationError } from '../lossMask.ts';
import type { MultiTurnMode } from '../lossMask.ts';
import { REJECT_REASONS } from '../rejectReasons.ts';
import type { RejectReason } from '../rejectReasons.ts';
import type { ChatTokenizer } from '../chatTokenizer.ts';
import { normalizeSftRow } from './rows.ts';

/** The recipe's SFT max length (card: 32768, right truncation). */
export const DEFAULT_SFT_MAX_LENGTH = 32768;

export interface SftReadOptions {
  tokenizer: ChatTokenizer;
  /** Right truncation length in tokens. */
  maxLength?: number;
  /** Samples per output batch. */
  batchRows?: number;
  /** Overrides detection by extension (.parquet, .jsonl/.ndjson). */
  format?: 'parquet' | 'jsonl';
  /** How conversations whose template rewrites earlier turns are trained (recipe `sft.multi_turn`; default per_turn). */
  multiTurn?: MultiTurnMode;
}

export interface SftReject {
  file: string;
  /** 0-based row (parquet) or line index (JSONL). */
  row: number;
  sampleId: string | null;
  /** One of REJECT_REASONS: the audit counts rejects by this string. */
  reason: RejectReason;
  /** Where and what exactly (message index, field, token counts). */
  detail: string;
  /**
   * Message index of the last assistant turn of the rejected sample, when only one per_turn sample of the row
   * is rejected (the row's other samples are kept); null when the whole row is rejected.
   */
  turnIndex: number | null;
}

export interface SftChunk {
  /** Accepted samples since the previous chunk (may have zero rows). */
  batch: RecordBatch;
  /** Rows rejected since the previous chunk. */
  rejects: SftReject[];
}

type RawRow = { index: number; value: unknown } | { index: number; error: string };

/** Arrow JS values (struct rows, list vectors, BigInts) to plain JSON-like values. */
function toPlain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Vector) return [...v].map(toPlain);
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number>);
  if (typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries((v as { toJSON(): Record<string, unknown> }).toJSON())) out[k] = toPlain(x);
    return out;
  }
  return v;
}

async function* parquetRows(path: string): AsyncGenerator<RawRow> {
  const file = await ParquetFile.fromFile(await openAsBlob(path));
  try {
    const schema = file.schema();
    const has = (name: string): boolean => {
      try {
        return schema.indexOf(name) >= 0;
      } catch {
        return false; // parquet-wasm throws for absent fields
      }
    };
    const present = ['messages', 'tools', 'id'].filter(has);
    schema.free();
    if (!present.includes('messages')) throw new ChatProtocolError('no "messages" column', { file: path, field: 'messages' });
    const meta = file.metadata();
    const groups = meta.numRowGroups();
    meta.free();
    let index = 0;
    for (let g = 0; g < groups; g++) {
      const wasmTable = await file.read({ rowGroups: [g], columns: present });
      const table = tableFromIPC(wasmTable.intoIPCStream());
      for (const row of table) yield { index: index++, value: toPlain(row) };
    }
  } finally {
    file.free();
  }
}

async function* jsonlRows(path: string): AsyncGenerator<RawRow> {
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let index = 0;
  for await (const line of lines) {
    const i = index++;
    if (line.trim() === '') continue;
    try {
      yield { index: i, value: JSON.parse(line) };
    } catch {
      yield { index: i, error: `line ${i + 1} is not valid JSON` };
    }
  }
}

function detectFormat(path: string): 'parquet' | 'jsonl' {
  if (/\.parquet$/i.test(path)) return 'parquet';
  if (/\.(jsonl|ndjson)$/i.test(path)) return 'jsonl';
  throw new ChatProtocolError('unknown SFT file type: expected .parquet or .jsonl (or pass format)', { file: path });
}

export async function* readSftFile(path: string, opts: SftReadOptions): AsyncGenerator<SftChunk> {
  if (!existsSync(path)) throw new ChatProtocolError('file not found', { file: path });
  const format = opts.format ?? detectFormat(path);
  const maxLength = opts.maxLength ?? DEFAULT_SFT_MAX_LENGTH;
  const batchRows = opts.batchRows ?? 256;
  let samples: SftSample[] = [];
  let rejects: SftReject[] = [];
  const rows = format === 'parquet' ? parquetRows(path) : jsonlRows(path);
  const multiTurn = opts.multiTurn ?? DEFAULT_MULTI_TURN;
  const reject = (row: number, sampleId: string | null, reason: RejectReason, detail: string, turnIndex: number | null = null): void => {
    rejects.push({ file: path, row, sampleId, reason, detail, turnIndex });
  };
  for await (const raw of rows) {
    if ('error' in raw) {
      reject(raw.index, null, REJECT_REASONS.notJson, raw.error);
      continue;
    }
    const row = normalizeSftRow(raw.value);
    if (!row.ok) {
      reject(raw.index, row.sampleId, row.reason, row.detail);
      continue;
    }
    try {
      const encoded = encodeConversationSamples(opts.tokenizer, row.messages, row.tools, { maxLength, multiTurn });
      const kept = encoded.filter((enc) => enc.mask.includes(1));
      for (const enc of encoded) {
        if (enc.mask.includes(1)) continue;
        const detail = `no trained token within the first ${maxLength} of ${enc.fullLength} tokens`;
        reject(raw.index, row.sampleId, REJECT_REASONS.emptyAfterTruncation, detail, kept.length > 0 ? enc.turns[enc.turns.length - 1] : null);
        if (kept.length === 0) break; // the whole row is gone: one reject for it
      }
      for (const enc of kept) {
        samples.push({ sourceRow: raw.index, sampleId: row.sampleId, ids: enc.ids, mask: enc.mask, truncated: enc.truncated, turnIndex: enc.turns[enc.turns.length - 1] });
      }
    } catch (err) {
      if (err instanceof UnusableConversationError) reject(raw.index, row.sampleId, err.reason, err.message);
      else if (err instanceof ChatProtocolError) reject(raw.index, row.sampleId, REJECT_REASONS.templateError, err.message);
      else throw err;
      continue;
    }
    if (samples.length >= batchRows) {
      yield { batch: makeSftBatch(samples), rejects };
      samples = [];
      rejects = [];
    }
  }
  if (samples.length > 0 || rejects.length > 0) yield { batch: makeSftBatch(samples), rejects };
}
