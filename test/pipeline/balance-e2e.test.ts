// The balance stage end to end on a real Temporal dev server: 2,000 rows, 400 per source, read back by an
// independent parquet reader; byte-identical on a re-run; a different seed samples differently; an audit record.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../../infra/worker.ts';
import { sha256File } from '../../core/digest.ts';
import type { RunProgress, StageAudit } from '../../schemas/stage.ts';
import { stageSummary } from '../../workflows/details.ts';
import { pendingActivities, startInProcessWorker, startTestServer, uniqueQueue, waitFor, type TestServer } from '../support/temporal.ts';
import { WorkflowFailedError } from '@temporalio/client';
import { generateSources, recipeFor, runPipeline } from '../support/balance-run.ts';

let env: TestServer;
let worker: { stop(): Promise<void> };
const queue = uniqueQueue('balance-e2e');
const out = mkdtempSync(join(tmpdir(), 'agentrl-runs-'));
let data: string;

before(async () => {
  data = generateSources();
  env = await startTestServer();
  worker = await startInProcessWorker(env.server.address, queue);
});

after(async () => {
  await worker.stop();
  await env.close();
});

test('2,000 rows, 400 per source, verl layout read back by hyparquet, with an audit record', async () => {
  const result = await runPipeline(env.client, queue, recipeFor(data, out), 'e2e-a');
  const b = result.stages.balance!;
  assert.equal(b.rlParquet.rows, 2000);
  assert.equal(b.rlParquet.sha256, await sha256File(b.rlParquet.path));
  assert.equal(b.outDir, join(out, 'e2e-a', 'balance'));

  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(b.rlParquet.path), compressors })) as any[];
  assert.equal(rows.length, 2000);
  const perSource = new Map<string, number>();
  for (const r of rows) perSource.set(r.data_source, (perSource.get(r.data_source) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(perSource), { deepscaler: 400, omni_math: 400, numina_math: 400, taco_code: 400, leetcode_code: 400 });
  for (const r of rows) {
    assert.equal(r.prompt.length, 1);
    assert.equal(r.prompt[0].role, 'user');
    assert.ok(r.prompt[0].content.length > 0);
    assert.ok(r.ability === 'math' || r.ability === 'code');
    assert.equal(r.reward_model.style, 'rule');
    assert.ok(r.reward_model.ground_truth.length > 0);
    assert.equal(r.extra_info.split, 'train');
    if (r.ability === 'code') JSON.parse(r.reward_model.ground_truth);
  }
  const uids = new Set(rows.map((r) => r.extra_info.uid));
  assert.equal(uids.size, 2000, 'every sampled row is a distinct problem');

  const audit = JSON.parse(readFileSync(b.audit.path, 'utf8')) as StageAudit;
  assert.equal(audit.stage, 'balance');
  assert.equal(audit.runId, 'e2e-a');
  assert.match(audit.recipeHash, /^[0-9a-f]{64}$/);
  assert.ok(audit.codeVersion.version);
  assert.equal(audit.recipeName, 'test');
  assert.deepEqual(audit.recipe, JSON.parse(JSON.stringify({ ...recipeFor(data, out), run_id: 'e2e-a' })), 'the effective recipe, defaults filled (the pipeline names the run)');
  for (const [source, files] of Object.entries(audit.inputs)) {
    assert.ok(files.length > 0, source);
    for (const f of files) assert.equal(f.sha256, await sha256File(f.path), f.path);
  }
  for (const [source, c] of Object.entries(audit.counts)) {
    const rejected = Object.values(c.rejected).reduce((x, y) => x + y, 0);
    assert.equal(c.read, rejected + c.eligibleBeforeDedupe, `${source}: read = rejected + eligible`);
    assert.equal(c.eligibleBeforeDedupe, c.eligible + c.duplicateWithin + c.duplicateAcross, `${source}: dedupe accounted`);
    assert.equal(c.sampled, 400);
    assert.ok(rejected > 0, `${source}: the fixtures carry rows that must be rejected`);
  }
  assert.ok(audit.counts.deepscaler.duplicateAcross > 0, 'Omni-MATH problems inside DeepScaleR are removed');
  assert.deepEqual(Object.keys(audit.outputs).sort(), ['rejects', 'rl_arrow', 'rl_parquet']);
  assert.ok(audit.timings.length >= 4);

  const rejects = (await parquetReadObjects({ file: await asyncBufferFromFile(b.rejects.path), compressors })) as any[];
  const totalRejected = Object.values(audit.counts).reduce(
    (n, c) => n + Object.values(c.rejected).reduce((x, y) => x + y, 0) + c.duplicateWithin + c.duplicateAcross, 0);
  assert.equal(rejects.length, totalRejected, 'every rejected or deduplicated row is in the rejects table');
  for (const r of rejects) assert.ok(r.reason, 'each reject has a reason');
});

test('the same selection gives byte-identical outputs, however its paths are spelled; another seed samples differently', async () => {
  const first = (await runPipeline(env.client, queue, recipeFor(data, out), 'e2e-b')).stages.balance!;
  // As a Web UI start may give it: another base_dir and absolute paths with `..` in them (lineage identity,
  // datasets/balance/source-file.ts).
  const cli = recipeFor(data, out);
  const respelled = cli.balance!.sources.map((s) => ({ ...s, files: s.files.map((f) => `${data}/${f.split('/')[0]}/../${f}`) }));
  const ui = { ...cli, base_dir: tmpdir(), balance: { ...cli.balance!, sources: respelled } };
  const second = (await runPipeline(env.client, queue, ui, 'e2e-c')).stages.balance!;
  assert.equal(second.rlParquet.sha256, first.rlParquet.sha256);
  assert.equal(second.rlArrow.sha256, first.rlArrow.sha256);
  assert.equal(second.rejects.sha256, first.rejects.sha256);
  const other = (await runPipeline(env.client, queue, recipeFor(data, out, { seed: 43 }), 'e2e-d')).stages.balance!;
  assert.notEqual(other.rlParquet.sha256, first.rlParquet.sha256);
  assert.equal(other.rlParquet.rows, 2000);
});

test('the run is visible to the UI: memo, search attributes, and a progress query', async () => {
  const handle = env.client.workflow.getHandle('e2e-a.balance');
  const d = await handle.describe();
  const memo = d.memo?.balance as { rows: number; audit: string };
  assert.equal(memo.rows, 2000);
  assert.match(memo.audit, /audit\.json$/);
  assert.deepEqual(d.searchAttributes?.AgentrlStage, ['balance']);
  assert.deepEqual(d.searchAttributes?.AgentrlRecipe, ['test']);
  // Started by the pipeline with a summary, which the Web UI shows on the pipeline's timeline and the stage's page.
  assert.equal(await d.staticSummary(), stageSummary('test', ['balance'], 'balance', 'e2e-a'));
  assert.match((await d.staticDetails()) ?? '', /pipeline +e2e-a\n/);
  const progress = await env.client.workflow.getHandle('e2e-a').query<RunProgress>('progress');
  assert.deepEqual(progress, { runId: 'e2e-a', stage: 'balance', step: 'finished', done: ['balance'] });
});

test('the recorded histories replay deterministically against the workflow code', async () => {
  for (const id of ['e2e-a', 'e2e-a.balance']) {
    const history = await env.client.workflow.getHandle(id).fetchHistory();
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, id);
  }
});

test('cancelling a run mid-stage cancels the stage and its steps', async () => {
  const handle = await env.client.workflow.start('pipelineWorkflow', { taskQueue: queue, workflowId: 'e2e-cancel', args: [recipeFor(data, out)] });
  await waitFor('an ingest step to start', async () =>
    (await pendingActivities(env.client, 'e2e-cancel.balance')).some((a) => a.name === 'ingestSource' && a.started), 60_000, 50);
  await handle.cancel();
  await assert.rejects(handle.result(), (err: Error) => err instanceof WorkflowFailedError && err.cause?.name === 'CancelledFailure');
  const child = await env.client.workflow.getHandle('e2e-cancel.balance').describe();
  assert.equal(child.status.name, 'CANCELLED');
  const history = await env.client.workflow.getHandle('e2e-cancel.balance').fetchHistory();
  // Whatever was still running when the cancel arrived is asked to stop, and nothing new is scheduled after it
  // (how many steps were still running depends on how fast the machine ran them).
  const events = history.events ?? [];
  const cancelAt = events.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
  assert.ok(cancelAt > 0, 'the stage saw the cancel request');
  assert.ok(!events.slice(cancelAt).some((e) => e.activityTaskScheduledEventAttributes), 'no step is scheduled after the cancel');
  const scheduledBefore = events.slice(0, cancelAt).filter((e) => e.activityTaskScheduledEventAttributes).map((e) => String(e.eventId));
  // A step may also finish on its own between the cancel request and the stage's reaction to it.
  const closed = new Set(events.map((e) => e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes).filter(Boolean).map((a) => String(a!.scheduledEventId)));
  const cancelRequested = new Set(events.slice(cancelAt).map((e) => e.activityTaskCancelRequestedEventAttributes).filter(Boolean).map((a) => String(a!.scheduledEventId)));
  for (const id of scheduledBefore) assert.ok(closed.has(id) || cancelRequested.has(id), `step scheduled at event ${id} finished or was asked to stop`);
});
