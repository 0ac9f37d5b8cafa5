// The rollout worker's samplers: a worker can serve two runs (or a step and a late retry of the previous one) at
// once, each rolling out from its own checkpoint. A rollout must keep its sampler until it finishes even when
// another checkpoint is asked for meanwhile (it used to be closed under it: "sampler: closed"), and samplers no
// rollout uses are freed once a newer checkpoint is in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeRolloutResources, heldPolicies, withPolicy } from '../../activities/grpo-resources.ts';
import { Learner } from '../../engine/learner.ts';
import { loadBaseModel, saveTrainCheckpoint } from '../../training/index.ts';
import type { CheckpointRef } from '../../schemas/stage.ts';
import type { PolicyClient } from '../../agent/index.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
const PARAMS = { maxNewTokens: 6, temperature: 1, stopTokens: [] as number[] };

async function checkpoint(dir: string, initSeed: number): Promise<CheckpointRef> {
  const m = await loadBaseModel(TINY, initSeed);
  const learner = await Learner.create(m.config, m.weights);
  try {
    return await saveTrainCheckpoint(join(dir, `ckpt-${initSeed}`), { config: m.config, rawConfig: m.rawConfig, weights: m.weights, state: await learner.state(), step: 0, position: { epoch: 0, batch: 0 }, extra: {} });
  } finally {
    await learner.close();
  }
}

async function sample(policy: PolicyClient, seed: number): Promise<number[]> {
  const first = await policy.start([1, 2, 3], { ...PARAMS, seed });
  const more = await policy.resume(first.seqId, [4], PARAMS);
  await policy.release(first.seqId);
  return [...first.tokens, ...more.tokens];
}

test('a rollout keeps its sampler while another checkpoint is rolled out on the same worker; idle samplers are freed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-resources-'));
  const [a, b] = [await checkpoint(dir, 1), await checkpoint(dir, 2)];
  let resumeA!: () => void;
  const gate = new Promise<void>((r) => (resumeA = r));
  const runA = withPolicy(a, async (policy) => {
    const first = await policy.start([1, 2, 3], { ...PARAMS, seed: 5 });
    await gate; // run B's rollout starts and finishes on checkpoint b meanwhile
    const more = await policy.resume(first.seqId, [4], PARAMS);
    await policy.release(first.seqId);
    return [...first.tokens, ...more.tokens];
  });
  const fromB = await withPolicy(b, (policy) => sample(policy, 5));
  resumeA();
  const fromA = await runA;
  assert.equal(fromA.length, 2 * PARAMS.maxNewTokens);
  assert.equal(fromB.length, 2 * PARAMS.maxNewTokens);
  assert.deepEqual(await withPolicy(a, (policy) => sample(policy, 5)), fromA, 'checkpoint a samples the same sequence again');
  assert.equal(heldPolicies(), 1, 'only the checkpoint asked for last stays loaded');
  await withPolicy(b, async () => undefined);
  assert.equal(heldPolicies(), 1);
  // What the worker does when it stops: nothing stays loaded (a sampler's device thread would keep the process alive).
  await closeRolloutResources();
  assert.equal(heldPolicies(), 0);
});
