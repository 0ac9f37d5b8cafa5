// The Web UI as a user meets it, in a real browser: the README's Start Workflow input is the demo recipe as a user
// pastes it, and a table from workflows/details.ts reads with its cells apart in the UI's "current details" panel.
// The demo started from the Start Workflow form, its pages and its report: test/demo/learning.test.ts.
// Screenshots: <state dir>/test-artifacts/browser/.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { Browser } from 'puppeteer-core';
import { type DevServer, startDevServer } from '../../infra/dev-server.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { artifactsDir, launch, noChromium, watchedPage } from './browser.ts';
import { readmeStartInput, uiStartInput } from './ui-input.ts';
import { userMetadata, workflowUrl } from './web-ui.ts';

const serverDir = mkdtempSync(join(tmpdir(), 'agentrl-temporal-ui-'));
let server: DevServer;
let client: Client;
let connection: Connection;
let browser: Browser | undefined;

before(async () => {
  if (noChromium) return;
  // The screenshots a person finds are this run's only (this file runs before test/demo's, which adds its own).
  rmSync(artifactsDir(), { recursive: true, force: true });
  // The Web UI is the point here, so this server is not headless (test/support/temporal.ts's servers are).
  server = await startDevServer({ dir: serverDir, headless: false });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await connection?.close();
  await server?.stop();
  rmSync(serverDir, { recursive: true, force: true });
});

test("the README's Start Workflow input is the demo recipe as a UI user pastes it", () => {
  // When recipes/demo-full.yaml changes: `node --import tsx test/browser/ui-input.ts recipes/demo-full.yaml` prints the block.
  assert.deepEqual(readmeStartInput().input, uiStartInput(join(PROJECT_ROOT, 'recipes/demo-full.yaml')));
});

test('current details from workflows/details.ts keep table cells apart in the Web UI', { skip: noChromium }, async () => {
  const taskQueue = `details-${process.pid}`;
  const workflowId = `details-${process.pid}`;
  const { code } = await bundleWorkflowCode({
    workflowsPath: join(PROJECT_ROOT, 'test/browser/details-workflow.ts'),
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m: string) => console.error(m) },
  });
  const native = await NativeConnection.connect({ address: server.address });
  const detailsWorker = await Worker.create({ connection: native, namespace: server.namespace, taskQueue, workflowBundle: { code } });
  const running = detailsWorker.run();
  try {
    const handle = await client.workflow.start('detailsWorkflow', {
      taskQueue,
      workflowId,
      args: [{
        heading: '**balance** done for run `demo`',
        table: { head: ['source', 'read', 'sampled'], rows: [['numina_math', 1020371, 400], ['taco_code', 606, 400]] },
        paths: [['report', '/runs/demo/report.html']],
      }],
    });
    const { page } = await watchedPage(browser!);
    await page.goto(workflowUrl(server.uiUrl!, server.namespace, workflowId), { waitUntil: 'domcontentloaded' });
    const shown = (await userMetadata(page, 'numina_math')).find((t) => t.includes('numina_math'))!;
    await page.screenshot({ path: join(artifactsDir(), '7-current-details.png'), fullPage: true });
    assert.match(shown, /numina_math +1020371 +400/, 'cells are apart, columns aligned');
    assert.match(shown, /taco_code +606 +400/);
    assert.match(shown, /report: \/runs\/demo\/report\.html/);
    await handle.signal('finish');
    await handle.result();
  } finally {
    detailsWorker.shutdown();
    await running;
    await native.close();
  }
});
