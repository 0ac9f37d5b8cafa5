// One GRPO-TCR step end to end in one process, with the tiny model (taught the scripts below), the real sampler,
// sandbox, judge and learner, on math rows and code rows (TACO call-based and LeetCode): the stored records' rewards
// and advantages agree with the formulas recomputed from the stored record, a wrong answer with k executed rounds
// has TCR exactly min(-0.6, -1 + 0.1k) + 1, validation gives mean@n / best@n per data_source, the update moves
// the weights and reports verl's metrics, and the same step run twice saves a byte-identical checkpoint.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadChatModel } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer } from '../../chat/index.ts';
import { Sampler } from '../../engine/sampler.ts';
import { Learner } from '../../engine/learner.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import type { Weights } from '../../engine/tensors.ts';
import { createLocalSandbox } from '../../sandbox/index.ts';
import type { LocalSandbox } from '../../sandbox/index.ts';
import { grpoUpdate, rolloutMetrics, runGroup, scoreRecords, SerialSamplerPolicy, ToolRunner, validationMetrics, withAdvantages } from '../../agent/index.ts';
import type { AgentSettings } from '../../agent/index.ts';
import { parseRewardSettings } from '../../schemas/reward.ts';
import { readTrajectoryFile, writeTrajectoryFile } from '../../schemas/trajectory.ts';
import type { TrajectoryRecord } from '../../schemas/trajectory.ts';
import type { ScoreRow } from '../../rewards/score.ts';
import { saveTrainCheckpoint } from '../../training/index.ts';
import { callText, scriptedTinyModel, TINY_DIR } from '../agent/scriptedModel.ts';

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const LEET_GT = JSON.stringify({ kind: 'leetcode', prompt: 'from typing import *\n', test: 'def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n', entry_point: 'Solution().plus' });
const ROWS: (ScoreRow & { messages: ChatMessage[] })[] = [
  { uid: 'm-right', dataSource: 'deepscaler', ability: 'math', groundTruth: '42', messages: user('Six times seven?') },
  { uid: 'm-wrong', dataSource: 'omni_math', ability: 'math', groundTruth: '7', messages: user('Keep calling.') },
  { uid: 'c-taco', dataSource: 'taco_code', ability: 'code', groundTruth: JSON.stringify({ fn_name: 'add', inputs: [[1, 2], [3, 4]], outputs: [3, 7] }), messages: user('Write add.') },
  { uid: 'c-leet', dataSource: 'leetcode_code', ability: 'code', groundTruth: LEET_GT, messages: user('Write plus.') },
];
const REWARD = parseRewardSettings({ overlong: { bufferTokens: 200, maxResponseTokens: 1024 } });
const SETTINGS: AgentSettings = { maxTurns: 3, maxPromptLength: 2048, maxResponseLength: 1024, temperature: 1, topP: 1 };

let tok: ChatTokenizer;
let sandbox: LocalSandbox;
let tools: ToolRunner;
let model: { config: Qwen3Config; weights: Weights };

before(async () => {
  tok = loadChatModel(TINY_DIR);
  sandbox = createLocalSandbox({ poolSize: 2 });
  tools = new ToolRunner({ sandbox, concurrency: 2, timeoutMs: 2000, memoryMb: 512, outputChars: 256 });
  const out = (code: string) => async () => (await tools.run({ code })).text;
  model = await scriptedTinyModel(tok, [
    { messages: ROWS[0].messages, turns: [{ text: callText('print(6*7)'), toolOutput: out('print(6*7)') }, { text: 'So \\boxed{42}.' }] },
    { messages: ROWS[1].messages, turns: [{ text: callText('1/0'), toolOutput: out('1/0') }, { text: callText('print(2)'), toolOutput: out('print(2)') }, { text: callText('print(3)') }] },
    { messages: ROWS[2].messages, turns: [{ text: 'Here:\n```python\ndef add(a, b):\n    return a + b\n```' }] },
    { messages: ROWS[3].messages, turns: [{ text: callText('print(1+2)'), toolOutput: out('print(1+2)') }, { text: '```python\nclass Solution:\n    def plus(self, a, b):\n        return a + b\n```' }] },
  ]);
});
after(() => sandbox?.close());

async function rollouts(validation: boolean, n: number, temperature: number): Promise<TrajectoryRecord[]> {
  const sampler = await Sampler.create(model.config, { weights: model.weights });
  try {
    const deps = { tok, policy: new SerialSamplerPolicy(sampler), tools, settings: { ...SETTINGS, temperature } };
    const groups = await Promise.all(ROWS.map((r) => runGroup({ run: 'r', step: 1, promptUid: r.uid, dataSource: r.dataSource, ability: r.ability, validation, seed: 11, messages: r.messages }, n, deps)));
    return groups.flat();
  } finally {
    await sampler.close();
  }
}

const rows = new Map(ROWS.map((r) => [r.uid, r]));
const round12 = (x: number) => Math.round(x * 1e12) / 1e12;

async function step(dir: string): Promise<{ records: TrajectoryRecord[]; ckpt: string; metrics: Record<string, number> }> {
  const raw = await rollouts(false, 3, 1.5);
  await writeTrajectoryFile(join(dir, 'rollouts.arrow'), raw); // before scoring, kept
  const scored = await scoreRecords(await readTrajectoryFile(join(dir, 'rollouts.arrow')), rows, tok, { settings: REWARD, sandbox, codeTimeoutMs: 5000, codeMemoryMb: 512 });
  const { records, fracRewardZeroStd } = withAdvantages(scored);
  await writeTrajectoryFile(join(dir, 'scored.arrow'), records);
  const learner = await Learner.create(model.config, model.weights, { seed: 11, optimizer: { weightDecay: 0.01 } });
  try {
    const upd = await grpoUpdate(learner, records, { miniBatchGroups: 1, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3, lr: 1e-3, microTokens: 4096 });
    const ref = await saveTrainCheckpoint(join(dir, 'ckpt'), { config: model.config, rawConfig: {}, weights: await learner.weights(), state: await learner.state(), step: 1, position: { epoch: 0, batch: 1 }, extra: {} });
    return { records, ckpt: ref.sha256, metrics: { ...rolloutMetrics(records, SETTINGS.maxResponseLength), ...upd, frac_reward_zero_std: fracRewardZeroStd } };
  } finally {
    await learner.close();
  }
}

test('one step: stored rewards and advantages agree with the formulas; TCR counts executed rounds; the update is reproducible', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-step-'));
  const first = await step(dir);
  const stored = await readTrajectoryFile(join(dir, 'scored.arrow'));
  assert.equal(stored.length, 12);
  const unscored = await readTrajectoryFile(join(dir, 'rollouts.arrow'));
  assert.ok(unscored.every((r) => r.reward === null), 'the rollout file is kept as written, unscored');
  for (const r of stored) {
    const k = r.toolRounds;
    const tcr = r.outcome! < 0 ? Math.min(-0.6, r.outcome! + 0.1 * k) - r.outcome! : 0;
    const overlong = Math.min(0, -(r.responseLength - (1024 - 200)) / 200);
    assert.equal(r.tcr, round12(tcr), `${r.promptUid} #${r.sampleIndex} tcr`);
    assert.equal(r.overlong, round12(overlong) === 0 ? 0 : round12(overlong));
    assert.equal(r.reward, round12(r.outcome! + r.tcr! + r.overlong!));
    assert.equal(r.toolRounds, r.turns.filter((t) => ['finished', 'error', 'timeout'].includes(t.toolStatus ?? '') && t.toolOutput.length > 0).length);
  }
  for (const uid of rows.keys()) {
    const g = stored.filter((r) => r.promptUid === uid);
    const mean = g.reduce((a, r) => a + r.reward!, 0) / g.length;
    const std = Math.sqrt(g.reduce((a, r) => a + (r.reward! - mean) ** 2, 0) / (g.length - 1));
    for (const r of g) assert.ok(Math.abs(r.advantage! - (std === 0 ? 0 : (r.reward! - mean) / (std + 1e-6))) < 1e-12, `${uid} advantage`);
  }
  for (const key of ['critic/score/mean', 'critic/advantages/max', 'response_length/clip_ratio', 'num_turns/mean', 'tool_call_counts/mean', 'actor/pg_loss', 'actor/pg_clipfrac', 'actor/ppo_kl', 'actor/grad_norm', 'actor/entropy', 'frac_reward_zero_std']) {
    assert.ok(Number.isFinite(first.metrics[key]), key);
  }
  assert.equal(first.metrics['actor/optimizer_steps'], 4);
  const second = await step(mkdtempSync(join(tmpdir(), 'grpo-step-')));
  assert.equal(second.ckpt, first.ckpt, 'same recipe and seed: byte-identical checkpoint');
});

test('validation (greedy): a wrong answer after k = 2 executed rounds has TCR exactly min(-0.6, -1 + 0.2) + 1; mean@n / best@n per source', async () => {
  const val = await scoreRecords(await rollouts(true, 2, 0), rows, tok, { settings: REWARD, sandbox, codeTimeoutMs: 5000, codeMemoryMb: 512 });
  const wrong = val.filter((r) => r.promptUid === 'm-wrong');
  for (const r of wrong) assert.deepEqual([r.outcome, r.toolRounds, r.tcr, r.finishReason], [-1, 2, round12(Math.min(-0.6, -1 + 0.1 * 2) + 1), 'max_turns']);
  const m = validationMetrics(val);
  assert.equal(m['val-core/deepscaler/acc/mean@2'], 1);
  assert.equal(m['val-core/omni_math/acc/best@2'], 0);
  assert.equal(m['val-core/taco_code/acc/mean@2'], 1);
  assert.equal(m['val-core/leetcode_code/acc/mean@2'], 1);
  assert.equal(m['val-aux/leetcode_code/tool_call_rate'], 1);
  assert.ok(val.every((r) => r.advantage === null && r.validation));
});
