// Bad input fails fast and clearly: the error names the file (and line), and it is not retried, because
// reading the same corrupt bytes again gives the same answer.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { startInProcessWorker, startTestServer, uniqueQueue, type TestServer } from '../support/temporal.ts';
import { generateSources, recipeFor, runPipeline } from '../support/balance-run.ts';
import { breakUtf8Of, corruptParquetPage, gzipInPlace, numinaWithTypes } from '../balance/corrupt-inputs.ts';

let env: TestServer;
let worker: { stop(): Promise<void> };
let pristine: string;
const queue = uniqueQueue('bad-input');

before(async () => {
  pristine = generateSources();
  env = await startTestServer();
  worker = await startInProcessWorker(env.server.address, queue);
});

after(async () => {
  await worker.stop();
  await env.close();
});

function copyOfSources(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-bad-'));
  cpSync(pristine, dir, { recursive: true });
  return dir;
}

/** Runs the pipeline expecting failure; returns the innermost failure and the number of attempts of failing steps. */
async function failure(data: string, runId: string): Promise<{ message: string; type?: string; nonRetryable?: boolean; attempts: number }> {
  const out = mkdtempSync(join(tmpdir(), 'agentrl-bad-out-'));
  const err = await runPipeline(env.client, queue, recipeFor(data, out), runId).then(
    () => assert.fail('the run should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof WorkflowFailedError, String(err));
  // WorkflowFailedError -> ChildWorkflowFailure -> ActivityFailure -> ApplicationFailure (typed) -> original error.
  let cause: any = err;
  while (cause && !(cause.name === 'ApplicationFailure' && cause.type)) cause = cause.cause;
  assert.ok(cause, 'the failure chain holds a typed application failure');
  // The attempt on which the failing step failed (other steps may be retried for their own reasons, such as a
  // heartbeat missed on a loaded machine; that is not what these tests are about).
  const history = await env.client.workflow.getHandle(`${runId}.balance`).fetchHistory();
  const events = history.events ?? [];
  const failed = events.find((e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.nonRetryable);
  assert.ok(failed, 'a step failed with a non-retryable failure');
  const started = events.find((e) => String(e.eventId) === String(failed.activityTaskFailedEventAttributes!.startedEventId));
  const attempts = started?.activityTaskStartedEventAttributes?.attempt ?? 0;
  return { message: cause.message, type: cause.type, nonRetryable: cause.nonRetryable, attempts };
}

test('a truncated parquet shard: the error names the file, and the step is not retried', async () => {
  const data = copyOfSources();
  const shardDir = join(data, 'numina_math/data');
  const shard = join(shardDir, readdirSync(shardDir).sort()[0]);
  truncateSync(shard, Math.floor(statSync(shard).size / 2));
  const f = await failure(data, 'bad-parquet');
  assert.equal(f.type, 'BadInputError');
  assert.equal(f.nonRetryable, true);
  assert.ok(f.message.includes(shard), f.message);
  assert.equal(f.attempts, 1);
});

test('a JSONL file with a broken line: the error names the file and the line', async () => {
  const data = copyOfSources();
  const file = join(data, 'omni_math/test.jsonl');
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.splice(6, 0, '{"problem": "unterminated');
  writeFileSync(file, lines.join('\n'));
  const f = await failure(data, 'bad-jsonl');
  assert.equal(f.type, 'BadInputError');
  assert.ok(f.message.includes(file), f.message);
  assert.match(f.message, /line 7\b/);
  assert.equal(f.attempts, 1);
});

test('a missing input file is named', async () => {
  const data = copyOfSources();
  rmSync(join(data, 'leetcode/LeetCodeDataset-train.jsonl'));
  const f = await failure(data, 'missing-source');
  assert.equal(f.type, 'BadInputError');
  assert.match(f.message, /LeetCodeDataset-train\.jsonl/);
  assert.equal(f.attempts, 1);
});

test('a source with fewer eligible rows than asked fails with the numbers, unless the recipe takes all', async () => {
  const data = copyOfSources();
  const file = join(data, 'leetcode/LeetCodeDataset-train.jsonl');
  writeFileSync(file, readFileSync(file, 'utf8').split('\n').slice(0, 50).join('\n') + '\n');
  const f = await failure(data, 'short-source');
  assert.equal(f.type, 'ShortfallError');
  assert.match(f.message, /leetcode_code/);

  const lenient = recipeFor(data, mkdtempSync(join(tmpdir(), 'agentrl-short-')));
  lenient.balance!.shortfall = 'take_all';
  const b = (await runPipeline(env.client, queue, lenient, 'short-take-all')).stages.balance!;
  const c = b.counts.leetcode_code;
  assert.ok(c.eligible < 400);
  assert.equal(c.sampled, c.eligible);
  assert.equal(c.shortfall, 400 - c.eligible);
  assert.equal(b.rlParquet.rows, 1600 + c.eligible);
});

/** Asserts a failure that is typed, non-retryable, on the first attempt, and names `file`. */
function failsAtOnce(f: Awaited<ReturnType<typeof failure>>, type: string, file: string): void {
  assert.equal(f.type, type, f.message);
  assert.equal(f.nonRetryable, true);
  assert.equal(f.attempts, 1, 'the step was not retried');
  assert.ok(f.message.includes(file), f.message);
}

test('a parquet page corrupted behind an intact footer fails on the first attempt, naming file and row group', async () => {
  const data = copyOfSources();
  const shard = join(data, 'numina_math/data', readdirSync(join(data, 'numina_math/data')).sort()[1]);
  corruptParquetPage(shard, 'problem', 0);
  const f = await failure(data, 'bad-parquet-page');
  failsAtOnce(f, 'BadInputError', shard);
  assert.match(f.message, /row group 0 \(columns problem/);
});

test('a gzip file given as JSONL fails on the first attempt saying so', async () => {
  const data = copyOfSources();
  const file = join(data, 'omni_math/test.jsonl');
  gzipInPlace(file);
  const f = await failure(data, 'gzip-jsonl');
  failsAtOnce(f, 'BadInputError', file);
  assert.match(f.message, /gzip-compressed/);
});

test('an Arrow shard with invalid UTF-8 fails on the first attempt naming file, batch and column', async () => {
  const data = copyOfSources();
  const shard = join(data, 'taco/train', readdirSync(join(data, 'taco/train')).sort()[0]);
  const question = String(tableFromIPC(readFileSync(shard)).getChild('question')!.get(70));
  breakUtf8Of(shard, question.slice(0, 40));
  const f = await failure(data, 'bad-arrow-utf8');
  failsAtOnce(f, 'BadInputError', shard);
  assert.match(f.message, /Arrow batch 1, column "question": row 6 is not valid UTF-8/);
});

test('a column of the wrong type fails on the first attempt naming file, column and both types', async () => {
  const data = copyOfSources();
  const shard = join(data, 'numina_math/data', readdirSync(join(data, 'numina_math/data')).sort()[2]);
  numinaWithTypes(shard, 'answer-int64');
  const f = await failure(data, 'wrong-type');
  failsAtOnce(f, 'BadInputError', shard);
  assert.match(f.message, /column "answer" has type Int64, expected string/);
});

test('a 0-byte input file fails on the first attempt naming it', async () => {
  const data = copyOfSources();
  const file = join(data, 'deepscaler/deepscaler.json');
  writeFileSync(file, '');
  const f = await failure(data, 'empty-file');
  failsAtOnce(f, 'BadInputError', file);
  assert.match(f.message, /empty \(0 bytes\)/);
});

test('two short sources: the shortfall error names both, on the first attempt', async () => {
  const data = copyOfSources();
  for (const rel of ['leetcode/LeetCodeDataset-train.jsonl', 'omni_math/test.jsonl']) {
    const file = join(data, rel);
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').slice(0, 50).join('\n') + '\n');
  }
  const f = await failure(data, 'two-short');
  assert.equal(f.type, 'ShortfallError');
  assert.equal(f.nonRetryable, true);
  assert.equal(f.attempts, 1);
  assert.match(f.message, /source "omni_math" has \d+ eligible rows.*; source "leetcode_code" has \d+ eligible rows/);
});
