// A run started the way the Web UI starts it: `temporal workflow start` with the JSON input the README shows,
// on the task queue the README names, completes.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findTemporalCli } from '../../infra/temporal-cli.ts';
import { PROJECT_ROOT, stateDir } from '../../infra/paths.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { startInProcessWorker, startTestServer, type TestServer } from '../support/temporal.ts';
import { generateSources } from '../support/balance-run.ts';

let env: TestServer;
let worker: { stop(): Promise<void> };
const runId = `ui-start-${process.pid}`;

function readmeInput(): { json: string; taskQueue: string } {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /<!-- ui-start-input -->\s*```json\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README shows the Start Workflow input');
  const queue = /task queue `([^`]+)`/.exec(readme);
  assert.ok(queue, 'README names the task queue');
  return { json: block[1], taskQueue: queue[1] };
}

before(async () => {
  generateSources(join(stateDir(), 'demo-data'));
  env = await startTestServer();
  worker = await startInProcessWorker(env.server.address, readmeInput().taskQueue);
});

after(async () => {
  await worker.stop();
  await env.close();
  rmSync(join(PROJECT_ROOT, 'runs', runId), { recursive: true, force: true });
});

test('`temporal workflow start` with the README input completes the balance stage', async () => {
  const { json, taskQueue } = readmeInput();
  process.chdir(PROJECT_ROOT); // the worker resolves the README's relative paths against its working directory
  execFileSync(findTemporalCli(), ['workflow', 'start', '--address', env.server.address, '--task-queue', taskQueue,
    '--type', 'pipelineWorkflow', '--workflow-id', runId, '--input', json], { encoding: 'utf8' });
  const result = (await env.client.workflow.getHandle(runId).result()) as PipelineResult;
  const b = result.stages.balance!;
  assert.equal(b.rlParquet.rows, 2000);
  assert.equal(b.rlParquet.path, join(PROJECT_ROOT, 'runs', runId, 'balance', 'rl.parquet'));
  for (const c of Object.values(b.counts)) assert.equal(c.sampled, 400);
});
