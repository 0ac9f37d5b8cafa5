// Durability of the SFT stage: the worker process is killed with SIGKILL in the middle of an epoch and at an
// epoch boundary; a new worker resumes from the checkpoint named in the last heartbeat (loading the model from
// it) and the final checkpoint is byte-identical to an uninterrupted run's. The model stays loaded between the
// epochs of an uninterrupted worker.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import type { SftStageResult } from '../../schemas/stage.ts';
import type { TrainHeartbeat } from '../../activities/sft.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { killHard, startTestServer, uniqueQueue, waitFor, type TestServer, workerProcesses } from '../support/temporal.ts';
import { sftData, runSft, sftRecipe, type SftData } from '../support/sft-run.ts';

let env: TestServer;
let data: SftData;
const out = mkdtempSync(join(tmpdir(), 'agentrl-sft-crash-'));
const workers = workerProcesses(() => env.server.address);
let clean: SftStageResult;
// 32 rows, one per step: 32 steps an epoch, checkpoints every 3 steps and at 32 (epoch end). The SDK sends a
// heartbeat at most every 0.8 x the 2 s timeout, so mid-epoch checkpoints reach the server only if the training
// outlasts a few of those intervals: a wider model than the tiny one (same tokenizer, seeded initialisation) and
// four epochs keep it so on a quiet machine too.
const EPOCHS = 4;
const STEPS = 32 * EPOCHS;
let modelDir: string;
const recipe = () =>
  sftRecipe(data, out, { epochs: EPOCHS, batch_size: 1, save_every_steps: 3 }, { runtime: { heartbeat_timeout_s: 2, max_attempts: 4 }, model: { path: modelDir, init_seed: 1 } });

/** The tiny model's tokenizer and template with a wider, deeper config (no weights: init_seed initialises them). */
function widerModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-sft-crash-model-'));
  const tiny = join(PROJECT_ROOT, 'recipes/models/tiny');
  for (const f of readdirSync(tiny)) if (f !== 'config.json') copyFileSync(join(tiny, f), join(dir, f));
  const config = JSON.parse(readFileSync(join(tiny, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, hidden_size: 256, intermediate_size: 768, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4, head_dim: 32 }));
  return dir;
}

before(async () => {
  data = sftData();
  modelDir = widerModel();
  env = await startTestServer();
});

after(async () => {
  await workers.killAll();
  await env.close();
});

/** The last heartbeat of the SFT stage's running train step, as the server holds it. */
async function trainHeartbeat(workflowId: string): Promise<TrainHeartbeat | 'closed' | undefined> {
  const d = await env.client.workflowService.describeWorkflowExecution({ namespace: env.client.options.namespace, execution: { workflowId } });
  if (d.workflowExecutionInfo?.status !== 1) return 'closed'; // not RUNNING: the moment to kill has passed
  const a = (d.pendingActivities ?? []).find((x) => x.activityType?.name === 'trainSftEpoch' && x.state === 2);
  const p = a?.heartbeatDetails?.payloads?.[0];
  return p ? (defaultPayloadConverter.fromPayload(p) as TrainHeartbeat) : undefined;
}

async function crashRun(id: string, killWhen: (h: TrainHeartbeat) => boolean): Promise<{ result: SftStageResult; killedAt: TrainHeartbeat }> {
  const queue = uniqueQueue(id);
  const first = workers.spawn(queue);
  const handle = await env.client.workflow.start('sftWorkflow', { taskQueue: queue, workflowId: id, args: [recipe()] });
  const killedAt = await waitFor(`a heartbeat of ${id} to kill at`, async () => {
    const h = await trainHeartbeat(id);
    return h === 'closed' || (h && killWhen(h)) ? h : undefined;
  }, 300_000, 30);
  assert.notEqual(killedAt, 'closed', `${id} finished before a heartbeat to kill at reached the server`);
  await killHard(first);
  workers.spawn(queue);
  return { result: (await handle.result()) as SftStageResult, killedAt: killedAt as TrainHeartbeat };
}

async function metricSteps(path: string): Promise<number[]> {
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors })) as { step: number }[];
  return rows.map((r) => r.step);
}

test('uninterrupted: the model stays loaded on the worker between epochs', async () => {
  const queue = uniqueQueue('clean');
  const w = workers.spawn(queue);
  clean = await runSft(env.client, queue, recipe(), 'clean');
  await killHard(w);
  assert.equal(clean.counts.stepsPerEpoch, 32);
  assert.deepEqual(clean.epochs.map((e) => [e.step, e.loaded]), Array.from({ length: EPOCHS }, (_, e) => [32 * (e + 1), e === 0]), 'epoch 1 loads the step-0 checkpoint, later epochs reuse the held model');
  assert.deepEqual(clean.checkpoint.position, { epoch: EPOCHS, batch: 0 });
});

test('SIGKILL mid-epoch: a new worker resumes from the heartbeat checkpoint; same final bytes', async () => {
  const { result, killedAt } = await crashRun('mid-epoch', (h) => h.checkpoint.position.batch > 0);
  assert.ok(killedAt.checkpoint.position.batch > 0, `killed after a mid-epoch checkpoint (${JSON.stringify(killedAt.checkpoint.position)})`);
  assert.equal(result.epochs[killedAt.checkpoint.position.epoch].loaded, true, 'the new worker loaded the model from the checkpoint');
  assert.equal(result.checkpoint.sha256, clean.checkpoint.sha256);
  assert.deepEqual(result.model.files.map((f) => f.sha256), clean.model.files.map((f) => f.sha256));
  assert.deepEqual(await metricSteps(result.metrics.path), Array.from({ length: STEPS }, (_, i) => i + 1), 'no step twice in the metrics');
});

test('SIGKILL at an epoch boundary: the resumed run continues with the next epoch; same final bytes', async () => {
  // The last checkpoint the server holds is the end of epoch 1 (position: epoch 1, batch 0) and no step since.
  const { result, killedAt } = await crashRun('boundary', (h) => h.checkpoint.position.epoch === 1 && h.checkpoint.position.batch === 0 && h.step === h.checkpoint.step);
  assert.deepEqual(killedAt.checkpoint.position, { epoch: 1, batch: 0 });
  assert.equal(result.checkpoint.sha256, clean.checkpoint.sha256, 'neither epoch 1 again nor epoch 2 skipped');
  assert.deepEqual(result.checkpoint.position, { epoch: EPOCHS, batch: 0 });
  assert.deepEqual(await metricSteps(result.metrics.path), Array.from({ length: STEPS }, (_, i) => i + 1));
});
