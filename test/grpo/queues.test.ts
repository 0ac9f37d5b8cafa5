// Scale-out: two worker processes, one serving the rollout queue (rollouts and scoring) and one the workflow and
// learner queue, complete a GRPO run, and the workflow history shows each activity ran on the process of its
// queue; `agentrl trajectories <run-id> --step N` then prints the stored records readably.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killHard, spawnWorkerProcess, startTestServer, uniqueQueue, waitFor } from '../support/temporal.ts';
import type { TestServer } from '../support/temporal.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
let env: TestServer;
const children: ReturnType<typeof spawnWorkerProcess>[] = [];

before(async () => {
  env = await startTestServer();
});
after(async () => {
  for (const c of children) await killHard(c);
  await env?.close();
});

test('two workers on separate queues complete a run; trajectories print readably', async () => {
  const main = uniqueQueue('grpo-main');
  const rollouts = uniqueQueue('grpo-rollout');
  // One process may serve several queues (`--task-queue a,b`): this one serves the workflow/learner queue and a spare.
  const learnerProc = spawnWorkerProcess(env.server.address, `${main},${uniqueQueue('grpo-spare')}`);
  const rolloutProc = spawnWorkerProcess(env.server.address, rollouts);
  children.push(learnerProc, rolloutProc);
  await waitFor('both workers polling', async () => learnerProc.output().includes('polling') && rolloutProc.output().includes('polling'), 120_000);
  const dir = mkdtempSync(join(tmpdir(), 'grpo-q-'));
  writeFileSync(join(dir, 'rl.parquet'), rlParquetBytes(RL_ROWS));
  const recipe = {
    seed: 5,
    output_dir: join(dir, 'runs'),
    model: { path: TINY, init_seed: 1 },
    runtime: { heartbeat_timeout_s: 20, max_attempts: 3 },
    grpo: { data: { files: [join(dir, 'rl.parquet')] }, val: { fraction: 0.3 }, epochs: 1, batch_size: 2, n: 2, max_response_length: 32, max_turns: 2, reward: { overlong: { buffer: 16 } }, validation: { every_steps: 0, before_training: false, n: 1 }, tool: { concurrency: 1, timeout_s: 5 }, task_queues: { rollout: rollouts } },
  };
  const handle = await env.client.workflow.start('grpoWorkflow', { taskQueue: main, workflowId: 'grpo-queues', args: [recipe] });
  const result = (await handle.result()) as { steps: number };
  assert.equal(result.steps, 2);

  const history = await handle.fetchHistory();
  const names = new Map<string, string>();
  const ranOn = new Map<string, Set<string>>();
  for (const e of history.events ?? []) {
    if (e.activityTaskScheduledEventAttributes) names.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      const name = names.get(String(started.scheduledEventId))!;
      if (!ranOn.has(name)) ranOn.set(name, new Set());
      ranOn.get(name)!.add(started.identity ?? '');
    }
  }
  const pidOf = (ids: Set<string> | undefined) => [...(ids ?? [])].map((id) => Number(id.split('@')[0]));
  assert.deepEqual(new Set(pidOf(ranOn.get('grpoRollout'))), new Set([rolloutProc.pid]));
  assert.deepEqual(new Set(pidOf(ranOn.get('grpoScore'))), new Set([rolloutProc.pid]));
  assert.deepEqual(new Set(pidOf(ranOn.get('grpoUpdateStep'))), new Set([learnerProc.pid]));
  assert.deepEqual(new Set(pidOf(ranOn.get('grpoPrepare'))), new Set([learnerProc.pid]));

  const text = execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'infra/cli.ts'), 'trajectories', 'grpo-queues', '--step', '1', '--output-dir', join(dir, 'runs')], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  assert.equal(text.match(/^=== /gm)?.length, 4); // 2 prompts x 2 samples
  assert.match(text, /finish (stop|length|tool_budget|max_turns); \d+ turn\(s\), \d+ executed tool round\(s\)/);
  assert.match(text, /outcome -?\d.*tcr .* overlong .* reward .* advantage /);
  assert.match(text, /--- turn 1 \(\d+ generated tokens; /);
});
