// The small demo (recipes/demo-small.yaml: the full demo with a 20-step GRPO stage) as a user runs it, once: started
// from the dev server's Web UI Start Workflow form with a worker running (where chromium is missing, from the CLI,
// and the test says so), followed by `agentrl run` attached to it, until it completes. Then:
// - it learns: the SFT loss falls below 30% of its first value; the SFT model calls the tool more than the model SFT
//   started from (validated before training by the GRPO stage, on the same prompts); GRPO-TCR's validation accuracy
//   (mean@n averaged over sources) and reward after training are at least what they were before (the SFT model);
//   the tool-call rate stays at >= 50% of its post-SFT level; all read from the run's own metrics tables;
// - the user saw it: the CLI printed the training stages' progress and summaries, `agentrl status` reports both
//   training stages, the run's page in the Web UI says what it is, the running stage's step and latest metrics,
//   its stages and where its report is;
// - the run's report.html opens offline with every plot drawn and no console error.
// Screenshots: <state dir>/test-artifacts/browser/.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import type { Browser } from 'puppeteer-core';
import { DEMOS, ensureDemoData } from '../../datasets/demo/index.ts';
import { type DevServer, startDevServer } from '../../infra/dev-server.ts';
import { PROJECT_ROOT, stateDir } from '../../infra/paths.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { runSummary, stageSummary } from '../../workflows/details.ts';
import { type CliResult, runCli } from '../support/cli.ts';
import { startInProcessWorker, waitFor } from '../support/temporal.ts';
import { artifactsDir, launch, noChromium, watchedPage } from '../browser/browser.ts';
import { readmeStartInput, uiStartInput } from '../browser/ui-input.ts';
import { pageText, startFromForm, userMetadata, waitForText, workflowUrl } from '../browser/web-ui.ts';

const DEMO_RECIPE = join(PROJECT_ROOT, DEMOS.small.recipe);
const STAGES = ['balance', 'sft', 'grpo'];
const runId = `demo-small-${process.pid}`;
const outputDir = mkdtempSync(join(tmpdir(), 'agentrl-demo-small-'));
const serverDir = mkdtempSync(join(tmpdir(), 'agentrl-temporal-demo-'));
let server: DevServer;
let client: Client;
let connection: Connection;
let worker: { stop(): Promise<void> } | undefined;
let browser: Browser | undefined;
let demo: PipelineResult | undefined;


const cli = runCli;

before(async () => {
  await ensureDemoData(join(stateDir(), DEMOS.small.dataDir), { seed: DEMOS.small.seed, sizes: DEMOS.small.sizes });
  // The Web UI is the point where chromium is there (test/support/temporal.ts's servers are headless).
  server = await startDevServer({ dir: serverDir, headless: Boolean(noChromium) });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: server.namespace });
  process.chdir(PROJECT_ROOT); // the worker resolves a relative base_dir against its working directory
  worker = await startInProcessWorker(server.address, readmeStartInput().taskQueue);
  if (!noChromium) browser = await launch();
});

after(async () => {
  await browser?.close();
  await worker?.stop();
  await connection?.close();
  await server?.stop();
  rmSync(outputDir, { recursive: true, force: true });
  rmSync(serverDir, { recursive: true, force: true });
});

function rowsOf(file: string): Record<string, number>[] {
  const table = tableFromIPC(readParquet(readFileSync(file)).intoIPCStream());
  return table.toArray().map((r) => r.toJSON() as Record<string, number>);
}

/** Mean over the five sources of a validation row's values whose key matches. */
function overSources(row: Record<string, number>, pattern: RegExp): number {
  const values = Object.entries(row).filter(([k, v]) => pattern.test(k) && typeof v === 'number' && Number.isFinite(v)).map(([, v]) => v);
  assert.equal(values.length, 5, `a value per source for ${pattern} in step ${row.step}`);
  return values.reduce((s, v) => s + v, 0) / values.length;
}

/** The direction of learning, from the run's metrics tables. */
function assertLearned(runDir: string): string {
  const sft = rowsOf(join(runDir, 'sft/metrics.parquet'));
  const firstLoss = sft[0].loss;
  const lastLoss = sft.slice(-10).reduce((s, r) => s + r.loss, 0) / Math.min(10, sft.length);
  assert.ok(lastLoss < 0.3 * firstLoss, `SFT loss falls below 30% of its first value: ${firstLoss} -> ${lastLoss}`);
  const validations = rowsOf(join(runDir, 'grpo/metrics.parquet')).filter((r) => Object.keys(r).some((k) => k.startsWith('val-core/') && Number.isFinite(r[k])));
  assert.ok(validations.length >= 2 && validations[0].step === 0, 'validation before training and after');
  const [first, last] = [validations[0], validations[validations.length - 1]];
  const acc = [first, last].map((r) => overSources(r, /^val-core\/[^/]+\/acc\/mean@\d+$/u));
  const reward = [first, last].map((r) => overSources(r, /^val-aux\/[^/]+\/reward\/mean@\d+$/u));
  const tools = [first, last].map((r) => overSources(r, /^val-aux\/[^/]+\/tool_call_rate$/u));
  // Before SFT: the model SFT started from, validated by the GRPO stage on the same prompts before training.
  const accBeforeSft = overSources(first, /^val-baseline\/[^/]+\/acc\/mean@\d+$/u);
  const toolsBeforeSft = overSources(first, /^val-baseline\/[^/]+\/tool_call_rate$/u);
  const said = `SFT loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}; validation accuracy before SFT ${accBeforeSft.toFixed(3)}, after SFT ${acc[0].toFixed(3)}, after GRPO ${acc[1].toFixed(3)} (step ${last.step}); reward ${reward[0].toFixed(3)} -> ${reward[1].toFixed(3)}; tool-call rate before SFT ${toolsBeforeSft.toFixed(2)}, after SFT ${tools[0].toFixed(2)}, after GRPO ${tools[1].toFixed(2)}`;
  assert.ok(tools[0] > toolsBeforeSft && acc[0] >= accBeforeSft, `SFT taught the tool: ${said}`);
  assert.ok(acc[1] >= acc[0], `validation accuracy after GRPO >= before: ${said}`);
  assert.ok(reward[1] >= reward[0], `validation reward after GRPO >= before: ${said}`);
  assert.ok(tools[1] >= 0.5 * tools[0], `tool-call rate stays >= 50% of its post-SFT level: ${said}`);
  return said;
}

/** Starts the run from the Start Workflow form, checks its page while it runs and after; the CLI follows it. */
async function startFromTheWebUi(): Promise<{ follow: Promise<CliResult> }> {
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
  // The CLI attaches to the run the form started and follows it, as `agentrl run` does for its own runs.
  const follow = cli('run', DEMO_RECIPE, '--run-id', runId, '--address', server.address, '--no-worker');

  // A failed run never shows COMPLETED: end the wait with its failure instead of at the timeout.
  let failure: Error | undefined;
  client.workflow.getHandle(runId).result().catch((err: Error) => (failure = err));
  const runUrl = workflowUrl(server.uiUrl!, server.namespace, runId);
  await page.goto(runUrl, { waitUntil: 'domcontentloaded' });
  // While it runs, the pipeline's own page opens its current details with what the run is: a run started from the
  // form has no summary of its own unless the user types one.
  const summary = runSummary(name, STAGES);
  const running = await userMetadata(page, [summary, /now\s+\S+/], 120_000);
  assert.ok(running.some((t) => t.includes(summary) && /now\s+\S+/.test(t)), `current details say what runs now: ${running.join('\n')}`);
  await page.screenshot({ path: join(shots, '2-demo-running.png'), fullPage: true });
  // While a training stage runs, the pipeline's own page shows the stage's step and latest metrics, as the stage
  // tells the pipeline (after SFT's first epoch, or after each RL step).
  const metric = /^(loss|score)\s+-?\d/mu;
  const live = await userMetadata(page, [/now\s+(sft|grpo): /, /step\s+\d+\/\d+/, metric], 15 * 60_000, 15_000);
  assert.ok(live.some((t) => t.includes(summary) && metric.test(t)), `the pipeline's current details show the running stage's metrics: ${live.join('\n')}`);
  await page.screenshot({ path: join(shots, '2-demo-running-stage-metrics.png'), fullPage: true });

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
  const page1 = await waitForText(page, new RegExp(`stage ${STAGES.length} of ${STAGES.length}`), { timeoutMs: 60_000 })
    .catch(async (err) => {
      await page.screenshot({ path: join(shots, '3-demo-timeline-missing.png'), fullPage: true });
      writeFileSync(join(shots, '3-demo-timeline-missing.txt'), await pageText(page));
      throw err;
    });
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
  const pipelineLine = new RegExp(`pipeline\\s+${runId}`);
  const child = (await userMetadata(page, [stageSummary(name, STAGES, 'grpo', runId), pipelineLine])).join('\n');
  assert.match(child, pipelineLine);
  assert.ok(child.includes(demo.stages.sft!.model.dir), `the grpo stage's details name the SFT model it starts from: ${child}`);
  await page.screenshot({ path: join(shots, '5-grpo-stage-metadata.png'), fullPage: true });
  return { follow };
}

test('the small demo, started from the Web UI form, completes and learns; the CLI follows it', { timeout: 40 * 60_000 }, async (t) => {
  let follow: Promise<CliResult>;
  if (noChromium) {
    t.diagnostic(`${noChromium}: the run starts from the CLI instead of the Web UI form`);
    follow = cli('run', DEMO_RECIPE, '--run-id', runId, '--output-dir', outputDir, '--address', server.address, '--no-worker');
  } else ({ follow } = await startFromTheWebUi());
  const run = await follow;
  assert.equal(run.code, 0, run.stderr.slice(-3000) + run.stdout.slice(-3000));
  demo = (await client.workflow.getHandle(runId).result()) as PipelineResult;
  // What `agentrl run` printed while following: the training stages' progress, then each stage and the report.
  assert.match(run.stdout, /^ {2}sft: step \d+\/\d+, loss \d/mu);
  assert.match(run.stdout, /^ {2}grpo: step \d+\/20: score -?\d/mu);
  assert.match(run.stdout, /^sft: \d+ conversations trained \(0 rejected\)/mu);
  assert.match(run.stdout, /^grpo: 20 RL steps -> checkpoint/mu);
  assert.match(run.stdout, /validation mean@\d+ \d\.\d{3} \(averaged over sources\)/u);
  assert.ok(run.stdout.includes(`report: ${demo.report}`), run.stdout);

  t.diagnostic(assertLearned(join(outputDir, runId)));

  const status = await cli('status', runId, '--address', server.address);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /sft: done, step (\d+)\/\1/u);
  assert.match(status.stdout, /grpo: done, RL step 20\/20/u);
  assert.match(status.stdout, /latest: score -?\d.*validation mean@\d/u);
});

test("the small demo's report opens offline: every plot is a drawn SVG, no console error", { skip: noChromium }, async (t) => {
  assert.ok(demo?.report, 'the small demo completed');
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
  for (const heading of ['Recipe and code', 'Lineage', 'Balance', 'SFT cold start', 'GRPO-TCR', 'Validation before SFT, after SFT and after GRPO']) assert.ok(text.includes(heading), heading);
  assert.deepEqual(problems.errors, []);
  assert.deepEqual(problems.failedRequests, []);
});

