// Durability of the GRPO stage: the worker SIGKILLed during a rollout, during scoring and during an update, and the
// dev server restarted mid-step; the run finishes with a final checkpoint byte-identical to an uninterrupted run's,
// the killed steps were retried, and no step's metrics row appears twice. For the scoring kill the tiny model is
// taught to answer with a slow (correct) solution, so judging its tests takes seconds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, pendingActivities, startTestServer, uniqueQueue, waitFor, workerProcesses } from '../support/temporal.ts';
import type { TestServer } from '../support/temporal.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';
import { loadChatModel } from '../../chat/index.ts';
import { saveScriptedModel, TINY_DIR } from '../agent/scriptedModel.ts';
import type { GrpoStageResult } from '../../schemas/stage.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
let env: TestServer;
const workers = workerProcesses(() => env.server.address);
const dir = mkdtempSync(join(tmpdir(), 'grpo-crash-'));

before(async () => {
  env = await startTestServer();
  writeFileSync(join(dir, 'rl.parquet'), rlParquetBytes(RL_ROWS));
});
after(async () => {
  await workers.killAll();
  await env?.close();
});

function recipe(out: string) {
  return {
    seed: 23,
    output_dir: out,
    model: { path: TINY, init_seed: 2 },
    runtime: { heartbeat_timeout_s: 5, max_attempts: 5 },
    // Long enough responses that a rollout and an update take a few seconds on the tiny model.
    grpo: { data: { files: [join(dir, 'rl.parquet')] }, val: { fraction: 0.3 }, epochs: 1, batch_size: 2, n: 4, max_response_length: 1200, max_turns: 2, lr: 1e-3, reward: { overlong: { buffer: 600 } }, validation: { every_steps: 0, before_training: false, n: 1 }, tool: { concurrency: 1, timeout_s: 5 } },
  };
}

async function started(workflowId: string, name: string): Promise<void> {
  await waitFor(`${name} to run`, async () => (await pendingActivities(env.client, workflowId)).some((a) => a.name === name && a.started), 180_000, 20);
}

async function retried(workflowId: string): Promise<string[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const names = new Map<string, string>();
  const out: string[] = [];
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) names.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
    const s = e.activityTaskStartedEventAttributes;
    if (s && (s.attempt ?? 1) > 1) out.push(names.get(String(s.scheduledEventId))!);
  }
  return out;
}

test('SIGKILL during a rollout and an update, a server restart mid-step: byte-identical final checkpoint, no metrics twice', async () => {
  const cleanQueue = uniqueQueue('grpo-clean');
  const ref = workers.spawn(cleanQueue);
  const clean = (await env.client.workflow.execute('grpoWorkflow', { taskQueue: cleanQueue, workflowId: 'grpo-clean', args: [recipe(join(dir, 'clean'))] })) as GrpoStageResult;
  await killHard(ref);

  const queue = uniqueQueue('grpo-crash');
  const first = workers.spawn(queue);
  const handle = await env.client.workflow.start('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-crashed', args: [recipe(join(dir, 'crashed'))] });
  await started('grpo-crashed', 'grpoRollout');
  await killHard(first);
  const second = workers.spawn(queue);
  await started('grpo-crashed', 'grpoUpdateStep');
  await killHard(second);
  workers.spawn(queue);
  await waitFor('step 2 rollouts', async () => (await pendingActivities(env.client, 'grpo-crashed')).some((a) => a.name === 'grpoRollout'), 180_000, 20);
  await env.server.stop();
  await env.server.start();
  const crashed = (await handle.result()) as GrpoStageResult;

  const again = await retried('grpo-crashed');
  assert.ok(again.includes('grpoRollout'), `a rollout was retried (${again.join(', ')})`);
  assert.ok(again.includes('grpoUpdateStep'), `an update was retried (${again.join(', ')})`);
  assert.equal(crashed.steps, clean.steps);
  assert.equal(crashed.checkpoint.sha256, clean.checkpoint.sha256, 'byte-identical final checkpoint');
  const steps = readFileSync(join(dir, 'crashed', 'grpo-crashed', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2]);
});

test('SIGKILL during scoring: the retried scoring ends with the uninterrupted checkpoint', async () => {
  const problem = 'Write a slow add.';
  const slow = 'Here:\n```python\ndef add(a, b):\n    import time\n    time.sleep(0.4)\n    return a + b\n```';
  const model = await saveScriptedModel(mkdtempSync(join(tmpdir(), 'grpo-slow-model-')), loadChatModel(TINY_DIR), [{ messages: [{ role: 'user', content: problem }], turns: [{ text: slow }] }]);
  const gt = JSON.stringify({ fn_name: 'add', inputs: Array.from({ length: 10 }, (_, i) => [i, 1]), outputs: Array.from({ length: 10 }, (_, i) => i + 1) });
  const data = join(dir, 'slow.parquet');
  writeFileSync(data, rlParquetBytes(Array.from({ length: 6 }, (_, i) => ({ uid: `slow-${i}`, dataSource: 'taco_code', ability: 'code' as const, problem, groundTruth: gt }))));
  const slowRecipe = (out: string) => ({
    seed: 29,
    output_dir: out,
    model: { path: model },
    runtime: { heartbeat_timeout_s: 5, max_attempts: 5 },
    grpo: { data: { files: [data] }, val: { fraction: 0.3 }, epochs: 1, batch_size: 2, n: 2, max_response_length: 256, max_turns: 2, lr: 1e-3, reward: { overlong: { buffer: 128 } }, validation: { every_steps: 0, before_training: false, n: 1 }, tool: { concurrency: 1, timeout_s: 5 } },
  });
  const cleanQueue = uniqueQueue('grpo-slow-clean');
  const ref = workers.spawn(cleanQueue);
  const clean = (await env.client.workflow.execute('grpoWorkflow', { taskQueue: cleanQueue, workflowId: 'grpo-slow-clean', args: [slowRecipe(join(dir, 'slow-clean'))] })) as GrpoStageResult;
  await killHard(ref);
  assert.equal(clean.last?.['critic/score/mean'], 1, 'the taught answer passes every test');

  const queue = uniqueQueue('grpo-slow');
  const first = workers.spawn(queue);
  const handle = await env.client.workflow.start('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-slow-crashed', args: [slowRecipe(join(dir, 'slow-crashed'))] });
  await started('grpo-slow-crashed', 'grpoScore');
  await killHard(first);
  workers.spawn(queue);
  const crashed = (await handle.result()) as GrpoStageResult;
  assert.ok((await retried('grpo-slow-crashed')).includes('grpoScore'), 'scoring was retried');
  assert.equal(crashed.checkpoint.sha256, clean.checkpoint.sha256, 'byte-identical final checkpoint');
  const steps = readFileSync(join(dir, 'slow-crashed', 'grpo-slow-crashed', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1, 2]);
});
