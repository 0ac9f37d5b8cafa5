// The SFT reader on verl-format fixtures written by pyarrow (test/fixtures/chat/make_sft_fixtures.py):
// arguments as struct or JSON string, JSON lines, rejects with file/row/reason, truncation, batching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Table, tableFromIPC, tableToIPC, vectorFromArray } from 'apache-arrow';
import type { Field } from 'apache-arrow';
import { Table as WasmTable, writeParquet } from 'parquet-wasm/node';
import { ChatProtocolError, encodeConversation, loadChatModel, normalizeSftRow, readSftFile } from '../../chat/index.ts';
import type { SftReadOptions, SftReject } from '../../chat/index.ts';
import { SFT_SCHEMA } from '../../schemas/sft.ts';

const tok = loadChatModel('recipes/models/tiny');
const DIR = 'test/fixtures/chat';
const STRUCT = `${DIR}/sft_struct_args.parquet`;
const STRING = `${DIR}/sft_string_args.parquet`;
const JSONL = `${DIR}/sft.jsonl`;

interface Row {
  source_row: number;
  sample_id: string | null;
  input_ids: number[];
  loss_mask: number[];
  n_tokens: number;
  n_trained: number;
  truncated: boolean;
  turn_index: number | null;
}

const describe = (f: Field) => `${f.name}:${f.type}:${f.nullable}`;

async function readAll(path: string, opts: Partial<SftReadOptions> = {}) {
  const rows: Row[] = [];
  const rejects: SftReject[] = [];
  const batchSizes: number[] = [];
  const ipc: Uint8Array[] = [];
  for await (const chunk of readSftFile(path, { tokenizer: tok, ...opts })) {
    batchSizes.push(chunk.batch.numRows);
    const table = new Table(chunk.batch);
    ipc.push(tableToIPC(table));
    const back = tableFromIPC(tableToIPC(table));
    assert.deepEqual(back.schema.fields.map(describe), SFT_SCHEMA.fields.map(describe));
    for (const r of back) {
      const o = r.toJSON();
      rows.push({ ...o, input_ids: [...o.input_ids], loss_mask: [...o.loss_mask] } as Row);
    }
    rejects.push(...chunk.rejects);
  }
  return { rows, rejects, batchSizes, ipc };
}

const COMMON_REJECTS: Array<[number, string, string, string]> = [
  [4, 'bad_role', 'malformed message', 'messages[1].role "robot" is not one of system, user, assistant, tool'],
  [5, 'orphan_tool', 'tool result with no call', 'messages[1]: tool message without a pending tool call'],
  [7, 'no_assistant', 'no assistant turn', 'no assistant message to train on'],
];

test('struct arguments, JSON-string arguments and JSON lines give the same samples', async () => {
  const fromStruct = await readAll(STRUCT);
  const fromString = await readAll(STRING);
  const fromJsonl = await readAll(JSONL);
  assert.deepEqual(fromStruct.rows.map((r) => r.sample_id), ['s0', 's1', 's2', 's3', 'bad_json_args', 'long']);
  assert.deepEqual(fromString.rows.map((r) => r.sample_id), ['s0', 's1', 's2', 's3', 'long']);
  assert.deepEqual(fromJsonl.rows, fromString.rows);
  const withoutStructOnly = fromStruct.rows.filter((r) => r.sample_id !== 'bad_json_args');
  assert.deepEqual(withoutStructOnly, fromString.rows);
  for (const r of fromJsonl.rows) {
    assert.equal(r.n_tokens, r.input_ids.length);
    assert.equal(r.n_trained, r.loss_mask.filter((m) => m === 1).length);
    assert.equal(r.truncated, false);
  }
});

test('each sample equals encodeConversation of its row, mask included', async () => {
  const lines = readFileSync(JSONL, 'utf8').split('\n');
  const { rows } = await readAll(JSONL);
  for (const r of rows) {
    const parsed = normalizeSftRow(JSON.parse(lines[r.source_row]));
    assert.ok(parsed.ok);
    const enc = encodeConversation(tok, parsed.messages, parsed.tools);
    assert.deepEqual(r.input_ids, enc.ids);
    assert.deepEqual(r.loss_mask, enc.mask);
  }
  // Row s0: the trained tokens are exactly the two assistant turns with their <|im_end|>.
  const s0 = rows.find((r) => r.sample_id === 's0')!;
  const trained = tok.decode(s0.input_ids.filter((_, i) => s0.loss_mask[i] === 1));
  assert.equal(trained, '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(12 ** 2)", "language": "python"}}\n</tool_call><|im_end|>12 squared is \\boxed{144}.<|im_end|>');
});

test('bad rows go to rejects with file, row and reason', async () => {
  const expect = (file: string, extra: Array<[number, string, string, string]>) =>
    [...COMMON_REJECTS, ...extra]
      .sort((a, b) => a[0] - b[0])
      .map(([row, sampleId, reason, detail]) => ({ file, row, sampleId, reason, detail, turnIndex: null }));
  assert.deepEqual((await readAll(STRUCT)).rejects, expect(STRUCT, []));
  const badJson: [number, string, string, string] = [6, 'bad_json_args', 'unparseable tool-call arguments', 'messages[1].tool_calls[0]: arguments is not valid JSON'];
  assert.deepEqual((await readAll(STRING)).rejects, expect(STRING, [badJson]));
  assert.deepEqual((await readAll(JSONL)).rejects, [
    ...expect(JSONL, [badJson]),
    { file: JSONL, row: 9, sampleId: null, reason: 'line is not valid JSON', detail: 'line 10 is not valid JSON', turnIndex: null },
  ]);
});

test('right truncation at maxLength; rows with nothing trained inside the limit are rejected', async () => {
  const full = await readAll(JSONL);
  const long = full.rows.find((r) => r.sample_id === 'long')!;
  const firstTrained = long.loss_mask.indexOf(1);
  const cut = await readAll(JSONL, { maxLength: firstTrained + 10 });
  const longCut = cut.rows.find((r) => r.sample_id === 'long')!;
  assert.equal(longCut.truncated, true);
  assert.equal(longCut.n_tokens, firstTrained + 10);
  assert.deepEqual(longCut.input_ids, long.input_ids.slice(0, firstTrained + 10));
  assert.deepEqual(longCut.loss_mask, long.loss_mask.slice(0, firstTrained + 10));
  assert.equal(longCut.n_trained, 10);
  const none = await readAll(JSONL, { maxLength: firstTrained });
  assert.ok(!none.rows.some((r) => r.sample_id === 'long'));
  const rejected = none.rejects.filter((r) => r.sampleId === 'long');
  assert.deepEqual(rejected.map((r) => [r.reason, r.detail, r.turnIndex]), [['empty after truncation', `no trained token within the first ${firstTrained} of ${long.n_tokens} tokens`, null]]);
});

test('batches hold batchRows samples and the output is byte-identical across runs', async () => {
  const a = await readAll(STRUCT, { batchRows: 4 });
  assert.deepEqual(a.batchSizes, [4, 2]);
  const b = await readAll(STRUCT, { batchRows: 4 });
  assert.deepEqual(a.ipc, b.ipc);
});

test('file-level problems throw with the file named', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sft-'));
  try {
    const drain = async (path: string, opts: Partial<SftReadOptions> = {}) => {
      for await (const _chunk of readSftFile(path, { tokenizer: tok, ...opts }));
    };
    await assert.rejects(drain(join(dir, 'missing.parquet')), (e: unknown) => e instanceof ChatProtocolError && /missing\.parquet: file not found/.test(e.message));
    writeFileSync(join(dir, 'data.csv'), 'a,b\n');
    await assert.rejects(drain(join(dir, 'data.csv')), /data\.csv: unknown SFT file type/);
    const noMessages = new Table({ x: vectorFromArray([1, 2], new Int32()) });
    writeFileSync(join(dir, 'x.parquet'), writeParquet(WasmTable.fromIPCStream(tableToIPC(noMessages, 'stream'))));
    await assert.rejects(drain(join(dir, 'x.parquet')), /x\.parquet, field messages: no "messages" column/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
