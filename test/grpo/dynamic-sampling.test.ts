// DAPO dynamic sampling on a real Temporal dev server with the tiny model: every step trains only on groups whose
// rewards differ, taken in draw order from consecutive generation batches of the seeded prompt order, at most
// batch_size of them, and draws stop at batch_size kept groups, at max_num_gen_batches, or when the prompts run out.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTrajectoryFile } from '../../schemas/trajectory.ts';
import type { TrajectoryRecord } from '../../schemas/trajectory.ts';
import type { RlPrompt } from '../../schemas/grpo.ts';
import { stepPrompts } from '../../training/index.ts';
import { startInProcessWorker, startTestServer, uniqueQueue } from '../support/temporal.ts';
import type { TestServer } from '../support/temporal.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';
import type { GrpoStageResult } from '../../schemas/stage.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
let env: TestServer;
let worker: { stop(): Promise<void> };
let queue: string;
let data: string;

before(async () => {
  env = await startTestServer();
  queue = uniqueQueue('grpo-ds');
  worker = await startInProcessWorker(env.server.address, queue);
  const dir = mkdtempSync(join(tmpdir(), 'grpo-ds-data-'));
  data = join(dir, 'rl.parquet');
  // Twice the fixture's rows (new uids): enough prompts for several steps of two groups.
  writeFileSync(data, rlParquetBytes([...RL_ROWS, ...RL_ROWS.map((r) => ({ ...r, uid: `${r.uid}-b` }))]));
});
after(async () => {
  await worker?.stop();
  await env?.close();
});

const BATCH = 2;
const MAX_GEN_BATCHES = 3;

function recipe(out: string) {
  return {
    seed: 5,
    output_dir: out,
    runtime: { heartbeat_timeout_s: 20, max_attempts: 3 },
    model: { path: TINY, init_seed: 3 },
    grpo: {
      data: { files: [data] },
      val: { fraction: 0.2 },
      epochs: 1,
      batch_size: BATCH,
      n: 2,
      mini_batch_size: 1,
      max_prompt_length: 2048,
      // Long enough that the tiny random model sometimes ends a turn early: lengths, and so overlong penalties, differ.
      max_response_length: 128,
      max_turns: 2,
      lr: 1e-3,
      reward: { overlong: { buffer: 64 } },
      validation: { every_steps: 0, before_training: false, n: 1 },
      tool: { concurrency: 2, timeout_s: 5 },
      save_every_steps: 100,
      dynamic_sampling: { enabled: true, max_num_gen_batches: MAX_GEN_BATCHES },
    },
  };
}

const pad = (n: number) => String(n).padStart(6, '0');
const groupsOf = (records: readonly TrajectoryRecord[]) => [...new Set(records.map((r) => r.promptUid))].map((uid) => records.filter((r) => r.promptUid === uid));
const allEqual = (g: readonly TrajectoryRecord[]) => g.every((r) => r.reward === g[0].reward);

test('dynamic sampling: kept groups all have differing rewards, drawn from consecutive batches of the seeded order', async () => {
  const out = mkdtempSync(join(tmpdir(), 'grpo-ds-out-'));
  const result = (await env.client.workflow.execute('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-ds', args: [recipe(out)] })) as GrpoStageResult;
  const dir = join(out, 'grpo-ds', 'grpo');
  const train = (JSON.parse(readFileSync(join(dir, 'work', 'prompts.json'), 'utf8')) as { train: RlPrompt[] }).train;
  const totalGenBatches = Math.floor(train.length / BATCH);
  const metrics = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.deepEqual(metrics.map((m) => m.step), Array.from({ length: result.steps }, (_, i) => i + 1), 'one metrics row per step');
  assert.ok(result.steps >= 1);

  let genBatch = 0;
  let drawsSeen = 0;
  let zeroStdSeen = 0;
  for (let step = 1; step <= result.steps; step++) {
    const draws: TrajectoryRecord[][] = [];
    for (let d = 1; existsSync(join(dir, 'work', 'scored', `step-${pad(step)}-d${d}.arrow`)); d++) {
      const records = await readTrajectoryFile(join(dir, 'work', 'scored', `step-${pad(step)}-d${d}.arrow`));
      // Each draw is the next generation batch of the seeded order.
      assert.deepEqual(groupsOf(records).map((g) => g[0].promptUid), stepPrompts(train, 5, BATCH, genBatch + 1).rows.map((r) => r.uid), `step ${step} draw ${d}`);
      genBatch++;
      draws.push(records);
    }
    drawsSeen += draws.length;
    const row = metrics[step - 1];
    assert.equal(row['dynamic_sampling/num_gen_batches'], draws.length);
    // Expected: the first batch_size groups with differing rewards, in draw order.
    const expected = draws.flatMap(groupsOf).filter((g) => !allEqual(g)).slice(0, BATCH);
    zeroStdSeen += draws.flatMap(groupsOf).filter(allEqual).length;
    const kept = groupsOf(await readTrajectoryFile(join(dir, 'work', 'scored', `step-${pad(step)}.arrow`)));
    assert.ok(kept.length >= 1 && kept.length <= BATCH);
    for (const g of kept) assert.ok(!allEqual(g) && g.length === 2, `step ${step} kept group ${g[0].promptUid} has non-zero reward std`);
    assert.deepEqual(kept.map((g) => g.map((r) => `${r.promptUid}#${r.sampleIndex}:${r.reward}`)), expected.map((g) => g.map((r) => `${r.promptUid}#${r.sampleIndex}:${r.reward}`)));
    assert.equal(row['dynamic_sampling/kept_groups'], kept.length);
    // Drawing stops exactly when the batch is full, at the limit, or when the prompts run out.
    const full = kept.length === BATCH;
    assert.ok(full || draws.length === MAX_GEN_BATCHES || genBatch === totalGenBatches, `step ${step} stopped early`);
    if (draws.length > 1) assert.ok(groupsOf(draws.slice(0, -1).flat()).filter((g) => !allEqual(g)).length < BATCH, `step ${step} drew past a full batch`);
  }
  // This seed meets groups with equal rewards and replaces them by drawing more (otherwise nothing was exercised).
  assert.ok(zeroStdSeen > 0 && drawsSeen > result.steps, `equal-reward groups ${zeroStdSeen}, draws ${drawsSeen}, steps ${result.steps}`);
  // The run ends when the generation batches of all epochs are used up.
  assert.equal(genBatch, totalGenBatches);
});

/** The innermost cause's message of a workflow failure (activity failure -> application failure). */
function causeMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  let last = '';
  while (e) {
    if (e.message) last = e.message;
    e = e.cause as typeof e;
  }
  return last;
}

test('dynamic sampling: a step that keeps no group within max_num_gen_batches fails naming the setting', async () => {
  const out = mkdtempSync(join(tmpdir(), 'grpo-ds-out-'));
  const r = recipe(out);
  // With this seed step 1 keeps a group from its one draw; step 2's one draw has only groups with equal rewards.
  await assert.rejects(
    env.client.workflow.execute('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-ds-limit', args: [{ ...r, grpo: { ...r.grpo, dynamic_sampling: { enabled: true, max_num_gen_batches: 1 } } }] }),
    (err: Error) => /grpo step 2: every group of 1 generation batches had equal rewards \(grpo\.dynamic_sampling\.max_num_gen_batches: 1\)/.test(causeMessage(err)),
  );
  const steps = readFileSync(join(out, 'grpo-ds-limit', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [1], 'step 1 was trained and recorded, step 2 was not');
});
