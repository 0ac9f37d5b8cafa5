// A worker killed at the GRPO stage's epoch boundary (verl #7401: a resume there skipped or repeated data): SIGKILL
// during the last update of epoch 1 and again during the first rollouts of epoch 2. The run goes on with epoch 2's
// first prompts, makes every step once, and ends with the uninterrupted run's checkpoint byte for byte.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, pendingActivities, startTestServer, uniqueQueue, waitFor, workerProcesses } from '../support/temporal.ts';
import type { TestServer } from '../support/temporal.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';
import { readTrajectoryFile } from '../../schemas/trajectory.ts';
import type { RlPrompt } from '../../schemas/grpo.ts';
import type { GrpoStageResult } from '../../schemas/stage.ts';
import { stepPrompts } from '../../training/index.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
let env: TestServer;
const workers = workerProcesses(() => env.server.address);
const dir = mkdtempSync(join(tmpdir(), 'grpo-epoch-'));

before(async () => {
  env = await startTestServer();
  writeFileSync(join(dir, 'rl.parquet'), rlParquetBytes(RL_ROWS));
});
after(async () => {
  await workers.killAll();
  await env?.close();
});

const SEED = 31;
function recipe(out: string) {
  return {
    seed: SEED,
    output_dir: out,
    model: { path: TINY, init_seed: 4 },
    runtime: { heartbeat_timeout_s: 5, max_attempts: 5 },
    // 6 rows, 2 for validation: 4 training prompts, 2 steps per epoch, 2 epochs. Responses long enough that a
    // rollout and an update take a few seconds on the tiny model.
    grpo: { data: { files: [join(dir, 'rl.parquet')] }, val: { fraction: 0.3 }, epochs: 2, batch_size: 2, n: 2, max_response_length: 1200, max_turns: 2, lr: 1e-3, reward: { overlong: { buffer: 600 } }, validation: { every_steps: 0, before_training: false, n: 1 }, tool: { concurrency: 1, timeout_s: 5 }, save_every_steps: 100 },
  };
}

const pad = (n: number) => String(n).padStart(6, '0');

async function running(workflowId: string, name: string, file: string): Promise<void> {
  await waitFor(`${name} with ${file}`, async () => existsSync(file) && (await pendingActivities(env.client, workflowId)).some((a) => a.name === name && a.started), 180_000, 20);
}

/** The activity type of every activity attempt after the first, from the workflow's history. */
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

async function stepUids(work: string, step: number): Promise<string[]> {
  return [...new Set((await readTrajectoryFile(join(work, 'scored', `step-${pad(step)}.arrow`))).map((r) => r.promptUid))];
}

test('SIGKILL at the epoch boundary: epoch 2 starts with its own first prompts, no step skipped or repeated', async () => {
  const cleanQueue = uniqueQueue('grpo-epoch-clean');
  const ref = workers.spawn(cleanQueue);
  const clean = (await env.client.workflow.execute('grpoWorkflow', { taskQueue: cleanQueue, workflowId: 'grpo-epoch-clean', args: [recipe(join(dir, 'clean'))] })) as GrpoStageResult;
  await killHard(ref);
  assert.equal(clean.steps, 4);

  const queue = uniqueQueue('grpo-epoch');
  const first = workers.spawn(queue);
  const handle = await env.client.workflow.start('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-epoch-crashed', args: [recipe(join(dir, 'crashed'))] });
  const work = join(dir, 'crashed', 'grpo-epoch-crashed', 'grpo', 'work');
  // The last update of epoch 1 (step 2 is scored, so the update running is step 2's).
  await running('grpo-epoch-crashed', 'grpoUpdateStep', join(work, 'scored', `step-${pad(2)}.arrow`));
  await killHard(first);
  const second = workers.spawn(queue);
  // The first rollouts of epoch 2 (step 3).
  await running('grpo-epoch-crashed', 'grpoRollout', join(work, 'rollouts', `step-${pad(3)}`));
  await killHard(second);
  workers.spawn(queue);
  const crashed = (await handle.result()) as GrpoStageResult;

  assert.equal(crashed.steps, 4);
  const again = await retried('grpo-epoch-crashed');
  assert.ok(again.includes('grpoUpdateStep') && again.includes('grpoRollout'), `the killed update and rollout were retried (${again.join(', ')})`);
  assert.equal(crashed.checkpoint.sha256, clean.checkpoint.sha256, 'byte-identical final checkpoint');
  const metrics = readFileSync(join(dir, 'crashed', 'grpo-epoch-crashed', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(metrics.map((m) => m.step), [1, 2, 3, 4], 'every step once');
  assert.deepEqual(metrics.map((m) => m['training/epoch']), [0, 0, 1, 1]);
  const train = (JSON.parse(readFileSync(join(work, 'prompts.json'), 'utf8')) as { train: RlPrompt[] }).train;
  const cleanWork = join(dir, 'clean', 'grpo-epoch-clean', 'grpo', 'work');
  for (let step = 1; step <= 4; step++) {
    const uids = await stepUids(work, step);
    assert.deepEqual(uids, stepPrompts(train, SEED, 2, step).rows.map((r) => r.uid), `step ${step} trained its own batch`);
    assert.deepEqual(uids, await stepUids(cleanWork, step), `step ${step} as in the uninterrupted run`);
  }
  // Each epoch sees every training prompt once.
  for (const [a, b] of [[1, 2], [3, 4]]) {
    assert.deepEqual([...(await stepUids(work, a)), ...(await stepUids(work, b))].sort(), train.map((r) => r.uid).sort(), `epoch of steps ${a}-${b}`);
  }
});
