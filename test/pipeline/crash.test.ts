// Durability: a worker killed with SIGKILL in the middle of the stage is replaced and the run finishes with the
// same bytes as an uninterrupted run; a dev server restarted mid-run (same SQLite state) loses nothing.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { PipelineResult } from '../../schemas/stage.ts';
import { killHard, pendingActivities, startTestServer, uniqueQueue, waitFor, type TestServer, workerProcesses } from '../support/temporal.ts';
import { generateSources, recipeFor, runPipeline } from '../support/balance-run.ts';

let env: TestServer;
let data: string;
const out = mkdtempSync(join(tmpdir(), 'agentrl-crash-'));
const workers = workerProcesses(() => env.server.address);

before(async () => {
  data = generateSources();
  env = await startTestServer();
});

after(async () => {
  await workers.killAll();
  await env.close();
});

/** Waits until an ingest step of the run's balance stage is executing on a worker. */
async function ingestRunning(runId: string): Promise<void> {
  await waitFor('an ingest step to start', async () =>
    (await pendingActivities(env.client, `${runId}.balance`)).some((a) => a.name === 'ingestSource' && a.started), 120_000, 50);
}

async function retriedActivities(workflowId: string): Promise<number> {
  let retried = 0;
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  for (const e of history.events ?? []) {
    if ((e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1) retried++;
  }
  return retried;
}

test('SIGKILL of the worker mid-stage: a new worker finishes with byte-identical output', async () => {
  const queue = uniqueQueue('crash');
  const reference = workers.spawn(queue);
  const clean = await runPipeline(env.client, queue, recipeFor(data, out), 'clean');
  await killHard(reference);

  const first = workers.spawn(queue);
  const handle = await env.client.workflow.start('pipelineWorkflow', { taskQueue: queue, workflowId: 'crashed', args: [recipeFor(data, out)] });
  await ingestRunning('crashed');
  await killHard(first);
  workers.spawn(queue);
  const crashed = (await handle.result()) as PipelineResult;

  assert.ok((await retriedActivities('crashed.balance')) > 0, 'the killed step was retried on the new worker');
  const a = clean.stages.balance!;
  const b = crashed.stages.balance!;
  assert.equal(b.rlParquet.sha256, a.rlParquet.sha256);
  assert.equal(b.rlArrow.sha256, a.rlArrow.sha256);
  assert.equal(b.rejects.sha256, a.rejects.sha256);
  assert.deepEqual(b.counts, a.counts);
});

test('restarting the dev server mid-run: the run completes from its persisted state', async () => {
  const queue = uniqueQueue('restart');
  workers.spawn(queue);
  const handle = await env.client.workflow.start('pipelineWorkflow', { taskQueue: queue, workflowId: 'restarted', args: [recipeFor(data, out)] });
  await ingestRunning('restarted');
  await env.server.stop();
  await env.server.start();
  const result = (await handle.result()) as PipelineResult;
  assert.equal(result.stages.balance!.rlParquet.rows, 2000);
  const clean = (await runPipeline(env.client, queue, recipeFor(data, out), 'after-restart')).stages.balance!;
  assert.equal(result.stages.balance!.rlParquet.sha256, clean.rlParquet.sha256);
});
