// The Web UI and the run report as a user meets them, in a real browser: a balance run started from the dev
// server's Start Workflow form (the README's input, with a worker running) completes, and the run's report.html
// opens offline with every plot drawn and no console error; a table from workflows/details.ts reads with its
// cells apart in the UI's "current details" panel. Screenshots: <state dir>/test-artifacts/browser/.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { Browser } from 'puppeteer-core';
import { type DevServer, startDevServer } from '../../infra/dev-server.ts';
import { PROJECT_ROOT, stateDir } from '../../infra/paths.ts';
import { writeRunReport } from '../../report/index.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { generateSources } from '../support/balance-run.ts';
import { startInProcessWorker } from '../support/temporal.ts';
import { addTrainingStages } from '../report/support.ts';
import { artifactsDir, launch, noChromium, watchedPage } from './browser.ts';

const runId = `ui-browser-${process.pid}`;
const outputDir = mkdtempSync(join(tmpdir(), 'agentrl-browser-runs-'));
const serverDir = mkdtempSync(join(tmpdir(), 'agentrl-temporal-ui-'));
let server: DevServer;
let client: Client;
let connection: Connection;
let worker: { stop(): Promise<void> } | undefined;
let browser: Browser | undefined;

/** The README's Start Workflow input and task queue; smaller (100 per source) and writing to a temp dir. */
function startInput(): { json: string; taskQueue: string } {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /<!-- ui-start-input -->\s*```json\n([\s\S]*?)```/.exec(readme);
  const queue = /task queue `([^`]+)`/.exec(readme);
  assert.ok(block && queue, 'README shows the Start Workflow input and names the task queue');
  const recipe = JSON.parse(block[1]) as { output_dir: string; balance: { per_source: number } };
  recipe.output_dir = outputDir;
  recipe.balance.per_source = 100;
  return { json: JSON.stringify(recipe, null, 2), taskQueue: queue[1] };
}

before(async () => {
  if (noChromium) return;
  generateSources(join(stateDir(), 'demo-data'));
  // The Web UI is the point here, so this server is not headless (test/support/temporal.ts's servers are).
  server = await startDevServer({ dir: serverDir, headless: false });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  process.chdir(PROJECT_ROOT); // the worker resolves the README's relative paths against its working directory
  worker = await startInProcessWorker(server.address, startInput().taskQueue);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await connection?.close();
  await server?.stop();
  rmSync(outputDir, { recursive: true, force: true });
  rmSync(serverDir, { recursive: true, force: true });
});

test('a balance run started from the Web UI Start Workflow form completes', { skip: noChromium }, async () => {
  const { json, taskQueue } = startInput();
  const { page } = await watchedPage(browser!);
  const shots = artifactsDir();
  await page.goto(`${server.uiUrl}/namespaces/${server.namespace}/workflows/start-workflow`, { waitUntil: 'domcontentloaded' });
  // The UI keeps polling and never reaches network idle: wait on elements.
  await page.waitForSelector('#workflowId', { timeout: 60_000 });
  await page.type('#workflowId', runId);
  await page.type('#taskQueue', taskQueue);
  await page.type('#workflowType', 'pipelineWorkflow');
  await page.waitForSelector('.cm-content');
  await page.focus('.cm-content');
  // Expressions as strings: they run in the page, and this project type-checks without the DOM library.
  await page.evaluate(`document.execCommand('insertText', false, ${JSON.stringify(json)})`);
  await page.screenshot({ path: join(shots, '1-start-workflow-form.png'), fullPage: true });
  await page.click('[data-testid=start-workflow-button]');

  const result = (await client.workflow.getHandle(runId).result()) as PipelineResult;
  const b = result.stages.balance!;
  assert.equal(b.rlParquet.rows, 500);
  for (const c of Object.values(b.counts)) assert.equal(c.sampled, 100);
  assert.equal(b.outDir, join(outputDir, runId, 'balance'));

  await page.goto(`${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(runId)}`, { waitUntil: 'domcontentloaded' });
  // The status badge is styled in capitals, and innerText returns the text as shown.
  await page
    .waitForFunction('/\\bCOMPLETED\\b/.test(document.body.innerText)', { timeout: 60_000 })
    .catch(async (err) => {
      await page.screenshot({ path: join(shots, '2-workflow-not-completed.png'), fullPage: true });
      throw err;
    });
  assert.ok(((await page.evaluate('document.body.innerText')) as string).includes(runId));
  await page.screenshot({ path: join(shots, '2-workflow-completed.png'), fullPage: true });
});

test('the run report opens offline: every plot is a drawn SVG, no console error', { skip: noChromium }, async () => {
  const runDir = join(outputDir, runId);
  addTrainingStages(runDir); // SFT and GRPO metrics + trajectories, so every kind of plot is on the page
  const report = await writeRunReport(runDir);
  const { page, problems } = await watchedPage(browser!);
  // Offline: any request that leaves the page's own file is refused and would show as a failed request.
  await page.setRequestInterception(true);
  page.on('request', (r) => (r.url().startsWith('file:') ? r.continue() : r.abort()));
  await page.goto(pathToFileURL(report.path).href, { waitUntil: 'load' });
  const plots = await page.$$eval('figure.plot', (figures) =>
    figures.map((f) => {
      const svg = f.querySelector('svg');
      const box = svg?.getBoundingClientRect();
      return {
        title: f.querySelector('figcaption')?.textContent ?? '',
        width: box?.width ?? 0,
        height: box?.height ?? 0,
        marks: svg ? svg.querySelectorAll('path, rect').length : 0,
        lines: svg ? [...svg.querySelectorAll('path')].filter((p) => (p.getAttribute('d') ?? '').length > 20).length : 0,
      };
    }),
  );
  assert.ok(plots.length >= 15, `expected the balance, SFT and GRPO plots, got ${plots.length}`);
  for (const p of plots) {
    assert.ok(p.width > 100 && p.height > 60, `${p.title}: the SVG has a size (${p.width}x${p.height})`);
    assert.ok(p.lines > 0, `${p.title}: the SVG draws marks`);
  }
  const text = (await page.evaluate('document.body.innerText')) as string;
  for (const heading of ['Recipe and code', 'Lineage', 'Balance', 'SFT cold start', 'GRPO-TCR', 'Trajectories']) assert.ok(text.includes(heading), heading);
  await page.screenshot({ path: join(artifactsDir(), '3-run-report.png'), fullPage: true });
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.failedRequests, []);
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
    await page.goto(`${server.uiUrl}/namespaces/${server.namespace}/workflows/${encodeURIComponent(workflowId)}`, { waitUntil: 'domcontentloaded' });
    // Current details live on the "User Metadata" tab, rendered inside an iframe: find the frame that shows them.
    await (await page.waitForSelector('::-p-text(User Metadata)', { timeout: 60_000 }))!.click();
    let shown = '';
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !shown.includes('numina_math')) {
      for (const frame of page.frames()) {
        const text = (await frame.evaluate('document.body ? document.body.innerText : ""').catch(() => '')) as string;
        if (frame !== page.mainFrame() && text.includes('numina_math')) shown = text;
      }
      if (!shown) await new Promise((r) => setTimeout(r, 500));
    }
    await page.screenshot({ path: join(artifactsDir(), '4-current-details.png'), fullPage: true });
    assert.ok(shown, 'the current details panel shows the text');
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
