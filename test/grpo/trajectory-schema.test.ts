// The trajectory record: every column survives a write and a read (nulls before scoring, values after), the bytes
// are the same for the same records, inconsistent rows are refused naming the row, and a file that is not a
// trajectory record is refused naming the missing columns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Int32, Table, tableToIPC, vectorFromArray } from 'apache-arrow';
import { decodeTrajectories, encodeTrajectories, readTrajectoryFile, TRAJECTORY_SCHEMA, UNSCORED, writeTrajectoryFile } from '../../schemas/trajectory.ts';
import type { TrajectoryRecord } from '../../schemas/trajectory.ts';

function record(overrides: Partial<TrajectoryRecord> = {}): TrajectoryRecord {
  return {
    run: 'run-1',
    step: 3,
    promptUid: 'uid-a',
    sampleIndex: 2,
    dataSource: 'deepscaler',
    ability: 'math',
    validation: false,
    samplingSeed: '123456789012345',
    promptIds: [1, 2, 3],
    responseIds: [10, 11, 12, 13, 14],
    responseMask: [1, 1, 0, 0, 1],
    rolloutLogProbs: [-0.5, -1.25, 0, 0, -2],
    turns: [
      { text: 'a <tool_call>{}</tool_call>', parseStatus: 'ok', callSpans: 1, call: '{"arguments":{"code":"1"},"name":"code_interpreter"}', toolInput: '1', toolOutput: ['1\n'], toolStatus: 'finished', toolTimeMs: 12.5, toolAttempts: 1, generatedTokens: 2, toolTokens: 2 },
      { text: '\\boxed{1}', parseStatus: 'no_call', callSpans: 0, call: null, toolInput: null, toolOutput: [], toolStatus: null, toolTimeMs: null, toolAttempts: 0, generatedTokens: 1, toolTokens: 0 },
    ],
    finishReason: 'stop',
    numTurns: 2,
    toolRounds: 1,
    malformedCalls: 0,
    responseLength: 5,
    ...UNSCORED,
    ...overrides,
  };
}

test('every column round-trips, unscored (nulls) and scored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'traj-'));
  const rows = [
    record(),
    record({ sampleIndex: 3, validation: true, outcome: -1, outcomeCorrect: false, outcomeDetail: '{"extracted":"2"}', tcr: 0.1, overlong: -0.25, reward: -1.15, advantage: -0.75, finishReason: 'max_turns' }),
  ];
  const path = join(dir, 't.arrow');
  await writeTrajectoryFile(path, rows);
  assert.deepEqual(await readTrajectoryFile(path), rows);
});

test('the same records give the same bytes', () => {
  const a = encodeTrajectories([record(), record({ sampleIndex: 0 })]);
  const b = encodeTrajectories([record(), record({ sampleIndex: 0 })]);
  assert.deepEqual(Buffer.from(a), Buffer.from(b));
  assert.equal(decodeTrajectories(a).length, 2);
  assert.deepEqual(
    TRAJECTORY_SCHEMA.fields.map((f) => f.name).slice(0, 4),
    ['run', 'step', 'prompt_uid', 'sample_index'],
  );
});

test('a row whose mask, log-probs or lengths disagree is refused naming it', () => {
  assert.throws(() => encodeTrajectories([record(), record({ responseMask: [1, 1] })]), /trajectory row 1 \(uid-a #2\): response_ids \(5\), response_mask \(2\)/);
  assert.throws(() => encodeTrajectories([record({ responseLength: 4 })]), /response_length 4 != 5/);
  assert.throws(() => encodeTrajectories([record({ numTurns: 3 })]), /num_turns 3 != 2 turns/);
  assert.throws(() => encodeTrajectories([record({ finishReason: 'oops' as never })]), /unknown finish_reason "oops"/);
});

test('a file that is not a trajectory record is refused naming the columns it lacks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'traj-'));
  const other = tableToIPC(new Table({ step: vectorFromArray([1], new Int32()) }), 'file');
  assert.throws(() => decodeTrajectories(other, 'x.arrow'), /x\.arrow: not a trajectory record file; missing or mistyped columns: run:Utf8, prompt_uid/);
  const path = join(dir, 'ok.arrow');
  await writeTrajectoryFile(path, []);
  assert.deepEqual(decodeTrajectories(readFileSync(path)), []);
});
