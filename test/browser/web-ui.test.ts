// The Web UI and the run report as a user meets them, in a real browser: the demo recipe started from the dev
// server's Start Workflow form (as JSON, with a worker running) completes, its page says what the run is and shows
// its stages and report path, and that run's report.html opens offline with every plot drawn and no console
// error; a table from workflows/details.ts reads with its cells apart in the UI's "current details" panel.
// Screenshots: <state dir>/test-artifacts/browser/.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import type { Browser } from 'puppeteer-core';
import { DEMOS, ensureDemoData } from '../../datasets/demo/index.ts';
import { type DevServer, startDevServer } from '../../infra/dev-server.ts';
import { PROJECT_ROOT, stateDir } from '../../infra/paths.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { runSummary, stageSummary } from '../../workflows/details.ts';
import { startInProcessWorker, waitFor } from '../support/temporal.ts';
import { artifactsDir, launch, noChromium, watchedPage } from './browser.ts';
import { readmeStartInput, uiStartInput } from './ui-input.ts';
import { pageText, startFromForm, userMetadata, waitForText, workflowUrl } from './web-ui.ts';

const DEMO_RECIPE = join(PROJECT_ROOT, DEMOS.small.recipe);
const STAGES = ['balance', 'sft', 'grpo'];
const runId = `ui-demo-${process.pid}`;
const outputDir = mkdtempSync(join(tmpdir(), 'agentrl-browser-runs-'));
const serverDir = mkdtempSync(join(tmpdir(), 'agentrl-temporal-ui-'));
let server: DevServer;
let client: Client;
let connection: Connection;
let worker: { stop(): Promise<void> } | undefined;
let browser: Browser | undefined;
let demo: PipelineResult | undefined;

before(async () => {
  if (noChromium) return;
  rmSync(artifactsDir(), { recursive: true, force: true }); // the screenshots a person finds are this run's only
  await ensureDemoData(join(stateDir(), DEMOS.small.dataDir), { seed: DEMOS.small.seed, sizes: DEMOS.small.sizes });
  // The Web UI is the point here, so this server is not headless (test/support/temporal.ts's servers are).
  server = await startDevServer({ dir: serverDir, headless: false });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  process.chdir(PROJECT_ROOT); // the worker resolves a relative base_dir against its working directory
  worker = await startInProcessWorker(server.address, readmeStartInput().taskQueue);
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

test("the README's Start Workflow input is the demo recipe as a UI user pastes it", () => {
  // When recipes/demo-full.yaml changes: `node --import tsx test/browser/ui-input.ts recipes/demo-full.yaml` prints the block.
  assert.deepEqual(readmeStartInput().input, uiStartInput(join(PROJECT_ROOT, 'recipes/demo-full.yaml')));
});

test('the demo recipe started from the Web UI Start Workflow form completes, and its page shows what it is and where its report is', { skip: noChromium, timeout: 30 * 60_000 }, async () => {
  const input = uiStartInput(DEMO_RECIPE);
  const name = input.name as string;
  const { page } = await watchedPage(browser!);
  const shots = artifactsDir();
  // Only the output folder differs from what a user pastes, so the test leaves nothing under runs/.
  const json = JSON.stringify({ ...input, output_dir: outputDir }, null, 2);
  await startFromForm(page, server.uiUrl!, server.namespace, { workflowId: runId, taskQueue: readmeStartInput().taskQueue, workflowType: 'pipelineWorkflow', json });
  await page.screenshot({ path: join(shots, '1-start-workflow-form.png'), fullPage: true });
  await page.click('[data-testid=start-workflow-button]');
  // The form answers asynchronously (slower on a busy machine): the run exists once the server has it.
  await waitFor('the server to have the run started from the form', async () => client.workflow.getHandle(runId).describe().then(() => true, () => false), 60_000, 250)
    .catch(async (err) => {
      await page.screenshot({ path: join(shots, '1-start-workflow-not-started.png'), fullPage: true });
      throw err;
    });

  // A failed run never shows COMPLETED: end the wait with its failure instead of at the timeout.
  let failure: Error | undefined;
  client.workflow.getHandle(runId).result().catch((err: Error) => (failure = err));
  const runUrl = workflowUrl(server.uiUrl!, server.namespace, runId);
  await page.goto(runUrl, { waitUntil: 'domcontentloaded' });
  // While it runs, the pipeline's own page opens its current details with what the run is: a run started from the
  // form has no summary of its own unless the user types one.
  const summary = runSummary(name, STAGES);
  const running = await userMetadata(page, summary, 120_000);
  assert.ok(running.some((t) => t.includes(summary) && /now\s+\S+/.test(t)), `current details say what runs now: ${running.join('\n')}`);
  await page.screenshot({ path: join(shots, '2-demo-running.png'), fullPage: true });

  // The status badge is styled in capitals, and innerText returns the text as shown.
  await page.goto(runUrl, { waitUntil: 'domcontentloaded' });
  await waitForText(page, /\bCOMPLETED\b/, { timeoutMs: 25 * 60_000, reloadMs: 30_000, stop: () => failure })
    .catch(async (err) => {
      await page.screenshot({ path: join(shots, '3-demo-not-completed.png'), fullPage: true });
      throw err;
    });
  demo = (await client.workflow.getHandle(runId).result()) as PipelineResult;
  const reportPath = join(outputDir, runId, 'report.html');
  assert.equal(demo.report, reportPath);
  assert.deepEqual(Object.keys(demo.stages), STAGES);

  // The timeline labels each stage's child workflow with the summary it was started with.
  const page1 = await waitForText(page, new RegExp(`stage ${STAGES.length} of ${STAGES.length}`), { timeoutMs: 60_000 });
  for (const stage of STAGES) assert.ok(page1.includes(stageSummary(name, STAGES, stage, runId)), `the timeline shows the ${stage} child's summary`);
  await page.screenshot({ path: join(shots, '3-demo-completed.png'), fullPage: true });
  // Its current details after the run: what it is, the stages done, and the report's path.
  const details = (await userMetadata(page, 'finished')).join('\n');
  assert.ok(details.includes(summary), details);
  assert.match(details, /stages\s+balance -> sft -> grpo/);
  assert.match(details, /done\s+balance, sft, grpo/);
  assert.ok(details.includes(`report: ${reportPath}`), details);
  // What each stage left: its latest metrics and outputs, on the pipeline's own page.
  assert.match(details, new RegExp(`balance\\s+${demo.stages.balance!.rlParquet.rows} prompts from 5 sources`));
  assert.match(details, /sft\s+step \d+: loss [\d.]+/);
  assert.match(details, new RegExp(`grpo\\s+${demo.stages.grpo!.steps} RL steps, score -?[\\d.]+`));
  for (const path of [demo.stages.balance!.rlParquet.path, demo.stages.sft!.model.dir, demo.stages.grpo!.checkpoint.path]) assert.ok(details.includes(path), `${path} in ${details}`);
  for (const stage of STAGES) assert.ok(details.includes(`${stage} details: ${runId}.${stage}`), details);
  await page.screenshot({ path: join(shots, '4-demo-current-details.png'), fullPage: true });

  // A stage's own page shows the summary and details the pipeline started it with.
  await page.goto(workflowUrl(server.uiUrl!, server.namespace, `${runId}.grpo`), { waitUntil: 'domcontentloaded' });
  const child = (await userMetadata(page, stageSummary(name, STAGES, 'grpo', runId))).join('\n');
  assert.match(child, /pipeline\s+ui-demo-/);
  assert.ok(child.includes(demo.stages.sft!.model.dir), `the grpo stage's details name the SFT model it starts from: ${child}`);
  await page.screenshot({ path: join(shots, '5-grpo-stage-metadata.png'), fullPage: true });
});

test("the demo run's report opens offline: every plot is a drawn SVG, no console error", { skip: noChromium }, async (t) => {
  assert.ok(demo?.report, 'the demo run from the Web UI completed');
  const { page, problems } = await watchedPage(browser!);
  // Offline: any request that leaves the page's own file is refused and would show as a failed request.
  await page.setRequestInterception(true);
  page.on('request', (r) => (r.url().startsWith('file:') ? r.continue() : r.abort()));
  await page.goto(pathToFileURL(demo.report).href, { waitUntil: 'load' });
  // Each plot with the section (h2) it sits in.
  const plots = (await page.evaluate(`[...document.querySelectorAll('h2, figure.plot')].reduce((acc, el) => {
    if (el.tagName === 'H2') { acc.section = el.id; return acc; }
    const svg = el.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    acc.plots.push({
      section: acc.section,
      title: el.querySelector('figcaption') ? el.querySelector('figcaption').textContent : '',
      width: box.width,
      height: box.height,
      lines: svg ? [...svg.querySelectorAll('path')].filter((p) => (p.getAttribute('d') || '').length > 20).length : 0,
    });
    return acc;
  }, { section: '', plots: [] }).plots`)) as { section: string; title: string; width: number; height: number; lines: number }[];
  await page.screenshot({ path: join(artifactsDir(), '6-demo-run-report.png'), fullPage: true });
  t.diagnostic(`${plots.length} plots: ${plots.map((p) => `${p.section}: ${p.title}`).join('; ')}`);
  for (const stage of STAGES) assert.ok(plots.some((p) => p.section === stage), `the ${stage} section has plots: ${JSON.stringify(plots.map((p) => [p.section, p.title]))}`);
  for (const p of plots) {
    assert.ok(p.width > 100 && p.height > 60, `${p.section} / ${p.title}: the SVG has a size (${p.width}x${p.height})`);
    assert.ok(p.lines > 0, `${p.section} / ${p.title}: the SVG draws marks`);
  }
  const text = await pageText(page);
  for (const heading of ['Recipe and code', 'Lineage', 'Balance', 'SFT cold start', 'GRPO-TCR']) assert.ok(text.includes(heading), heading);
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
