// A run started the way the Web UI starts it: `temporal workflow start` with the JSON input the README shows (the
// whole demo recipe), on the task queue the README names, completes; here only its balance stage (`until`), which
// the paths the JSON spells decide. The whole recipe started from the Web UI's form: test/browser/web-ui.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { findTemporalCli } from '../../infra/temporal-cli.ts';
import { PROJECT_ROOT, stateDir } from '../../infra/paths.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { startInProcessWorker, startTestServer, type TestServer } from '../support/temporal.ts';
import { DEMOS, ensureDemoData } from '../../datasets/demo/index.ts';
import { readmeStartInput } from '../browser/ui-input.ts';

let env: TestServer;
let worker: { stop(): Promise<void> };
const runId = `ui-start-${process.pid}`;

/** The README's input as JSON text, with `until: balance`: the README shows the whole demo recipe. */
function readmeInput(): { json: string; taskQueue: string } {
  const { input, taskQueue } = readmeStartInput();
  return { json: JSON.stringify({ ...input, until: 'balance' }), taskQueue };
}

before(async () => {
  await ensureDemoData(join(stateDir(), DEMOS.full.dataDir), { seed: DEMOS.full.seed, sizes: DEMOS.full.sizes });
  env = await startTestServer();
  worker = await startInProcessWorker(env.server.address, readmeInput().taskQueue);
});

after(async () => {
  await worker.stop();
  await env.close();
  rmSync(join(PROJECT_ROOT, 'runs', runId), { recursive: true, force: true });
});

test('`temporal workflow start` with the README input runs the balance stage on the paths it spells', async () => {
  const { json, taskQueue } = readmeInput();
  process.chdir(PROJECT_ROOT); // the worker resolves the README's relative paths against its working directory
  execFileSync(findTemporalCli(), ['workflow', 'start', '--address', env.server.address, '--task-queue', taskQueue,
    '--type', 'pipelineWorkflow', '--workflow-id', runId, '--input', json], { encoding: 'utf8' });
  const result = (await env.client.workflow.getHandle(runId).result()) as PipelineResult;
  const b = result.stages.balance!;
  const { balance } = readmeStartInput().input as { balance: { per_source: number; sources: unknown[] } };
  assert.equal(b.rlParquet.rows, balance.per_source * balance.sources.length);
  assert.equal(b.rlParquet.path, join(PROJECT_ROOT, 'runs', runId, 'balance', 'rl.parquet'));
  for (const c of Object.values(b.counts)) assert.equal(c.sampled, balance.per_source);
});
