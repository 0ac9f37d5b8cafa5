// SFT data for training: the chat layer's reader turns each file into tokenised, masked rows (schemas/sft.ts)
// and rejects; this module gathers them into one Arrow IPC table and a rejects list with a reason kind for
// counting, and reads the table back as token rows.
import { readFile } from 'node:fs/promises';
import type { RecordBatch} from 'apache-arrow';
import { Int32, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import { ChatProtocolError, loadChatModel, readSftFile } from '../chat/index.ts';
import type { SftReadOptions } from '../chat/index.ts';
import { SFT_SCHEMA } from '../schemas/sft.ts';
import type { TokenRow } from './batches.ts';
import { parquetBytes } from './parquet.ts';
import { TrainingInputError } from './errors.ts';

/** How multi-turn conversations become samples (recipe sft.multi_turn). */
export type MultiTurn = 'whole' | 'per_turn';

export interface SftRejectRow {
  file: string;
  row: number;
  sample_id: string | null;
  /** A stable reason kind for counting (REJECT_KINDS); `reason` is the reader's full message. */
  kind: string;
  reason: string;
}

/** Reason kinds, matched in order against the reader's message (docs/sft.md lists them). */
export const REJECT_KINDS: [string, RegExp][] = [
  ['invalid_json', /^line is not valid JSON/],
  ['no_assistant_turn', /no assistant message/],
  ['empty_after_truncation', /no assistant token within the first/],
  ['bad_role', /\.role .* is not one of/],
  ['tool_result_without_call', /tool message without a preceding tool call/],
  ['roles_out_of_order', /only assistant messages may have tool_calls/],
  ['unparseable_arguments', /arguments/],
  ['template_error', /template|rendered/],
  ['malformed_row', /.*/],
];

export function rejectKind(reason: string): string {
  return REJECT_KINDS.find(([, re]) => re.test(reason))![0];
}

export interface TokenizeResult {
  /** Arrow IPC file bytes in SFT_SCHEMA, files in the given order, rows in file order. */
  ipc: Uint8Array;
  rejects: SftRejectRow[];
  perFile: { file: string; read: number; accepted: number; rejected: number }[];
  accepted: number;
  truncated: number;
  tokens: number;
  trainedTokens: number;
  longestRow: number;
}

/** Tokenises every file with the model directory's tokenizer and chat template. */
export async function tokenizeSftFiles(args: {
  files: string[];
  tokenizerDir: string;
  maxLength: number;
  multiTurn: MultiTurn;
  onProgress?: (p: { file: string; rows: number }) => void;
}): Promise<TokenizeResult> {
  if (args.multiTurn !== 'whole') {
    throw new TrainingInputError(`sft.multi_turn "${args.multiTurn}": this version's chat layer renders whole conversations only`);
  }
  const tokenizer = loadChatModel(args.tokenizerDir);
  const batches: RecordBatch[] = [];
  const rejects: SftRejectRow[] = [];
  const perFile: TokenizeResult['perFile'] = [];
  const out = { accepted: 0, truncated: 0, tokens: 0, trainedTokens: 0, longestRow: 0 };
  for (const file of args.files) {
    const counts = { file, read: 0, accepted: 0, rejected: 0 };
    const opts: SftReadOptions & { multiTurn: MultiTurn } = { tokenizer, maxLength: args.maxLength, multiTurn: args.multiTurn };
    try {
      for await (const chunk of readSftFile(file, opts)) {
        for (const r of chunk.rejects) rejects.push({ file: r.file, row: r.row, sample_id: r.sampleId, kind: rejectKind(r.reason), reason: r.reason });
        counts.rejected += chunk.rejects.length;
        counts.accepted += chunk.batch.numRows;
        const n = chunk.batch.getChild('n_tokens')!;
        const trained = chunk.batch.getChild('n_trained')!;
        const cut = chunk.batch.getChild('truncated')!;
        for (let i = 0; i < chunk.batch.numRows; i++) {
          out.tokens += n.get(i) as number;
          out.trainedTokens += trained.get(i) as number;
          out.longestRow = Math.max(out.longestRow, n.get(i) as number);
          if (cut.get(i)) out.truncated++;
        }
        if (chunk.batch.numRows > 0) batches.push(chunk.batch);
        args.onProgress?.({ file, rows: counts.accepted + counts.rejected });
      }
    } catch (err) {
      // A file that cannot be read at all fails the stage with the file named (the reader's message has it).
      if (err instanceof ChatProtocolError) throw new TrainingInputError(err.message);
      throw new TrainingInputError(`${file}: cannot read SFT file (${(err as Error).message})`);
    }
    counts.read = counts.accepted + counts.rejected;
    out.accepted += counts.accepted;
    perFile.push(counts);
  }
  const table = batches.length ? new Table(batches) : new Table(SFT_SCHEMA);
  return { ipc: tableToIPC(table, 'file'), rejects, perFile, ...out };
}

/** Reads a tokenised table back as token rows (ids and loss mask per row). */
export async function readTokenRows(path: string): Promise<TokenRow[]> {
  const table = tableFromIPC(await readFile(path));
  const ids = table.getChild('input_ids');
  const mask = table.getChild('loss_mask');
  if (!ids || !mask) throw new TrainingInputError(`${path}: not an SFT token table (input_ids, loss_mask)`);
  const rows: TokenRow[] = [];
  for (let i = 0; i < table.numRows; i++) {
    rows.push({ ids: Int32Array.from(ids.get(i)!.toArray() as Int32Array), mask: Int8Array.from(mask.get(i)!.toArray() as Int8Array) });
  }
  return rows;
}

/** The rejects table (file, row, sample_id, kind, reason), in the order the rows were read. */
export function rejectsParquet(rows: readonly SftRejectRow[]): Uint8Array {
  return parquetBytes(
    new Table({
      file: vectorFromArray(rows.map((r) => r.file), new Utf8()),
      row: vectorFromArray(rows.map((r) => r.row), new Int32()),
      sample_id: vectorFromArray(rows.map((r) => r.sample_id), new Utf8()),
      kind: vectorFromArray(rows.map((r) => r.kind), new Utf8()),
      reason: vectorFromArray(rows.map((r) => r.reason), new Utf8()),
    }),
  );
}
