// Bad input fails fast and clearly: the error names the file (and line), and it is not retried, because
// reading the same corrupt bytes again gives the same answer.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { startInProcessWorker, startTestServer, uniqueQueue, type TestServer } from '../support/temporal.ts';
import { generateSources, recipeFor, runPipeline } from '../support/balance-run.ts';

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
  const history = await env.client.workflow.getHandle(`${runId}.balance`).fetchHistory();
  const attempts = Math.max(...(history.events ?? []).map((e) => e.activityTaskStartedEventAttributes?.attempt ?? 0));
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
