// The agent loop with the real tiny model (taught the scripts below by SFT), the real sampler and the real
// sandbox: tool calls run and their output is appended with mask 0, malformed calls are fed back and counted,
// time-outs and program errors are executed rounds, a call in the max_turns-th turn never runs, the response
// budget stops generation and refuses a tool turn that would exceed it, the assembled ids equal the template's
// full render, trajectories run concurrently without changing each other, sampling is reproducible from
// (seed, step, uid, sample index), and a broken sandbox is an error, never tool output.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CODE_INTERPRETER_TOOL, loadChatModel } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer } from '../../chat/index.ts';
import { Sampler } from '../../engine/sampler.ts';
import { createLocalSandbox, createSandboxFusion } from '../../sandbox/index.ts';
import type { LocalSandbox } from '../../sandbox/index.ts';
import { runGroup, runTrajectory, SerialSamplerPolicy, ToolInfrastructureError, ToolRunner, trajectorySeed } from '../../agent/index.ts';
import type { AgentDeps, AgentSettings, TrajectoryTask } from '../../agent/index.ts';
import type { TrajectoryRecord } from '../../schemas/trajectory.ts';
import { callText, scriptedTinyModel, TINY_DIR } from './scriptedModel.ts';
import type { Script } from './scriptedModel.ts';

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const SETTINGS: AgentSettings = { maxTurns: 3, maxPromptLength: 2048, maxResponseLength: 2048, temperature: 0, topP: 1 };

let tok: ChatTokenizer;
let sandbox: LocalSandbox;
let tools: ToolRunner;
let sampler: Sampler;
let deps: AgentDeps;

const out = (code: string) => async () => (await tools.run({ code })).text;
const SCRIPTS: Record<string, () => Script> = {
  A: () => ({ messages: user('Six times seven?'), turns: [{ text: callText('print(6*7)'), toolOutput: out('print(6*7)') }, { text: 'So \\boxed{42}.' }] }),
  B: () => ({
    messages: user('Broken call.'),
    turns: [
      { text: '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(1)"</tool_call>', toolOutput: async () => 'Error: tool call 1 is not valid JSON. Write {"name": <tool name>, "arguments": {<argument name>: <value>}} between <tool_call> and </tool_call>.' },
      { text: '\\boxed{0}' },
    ],
  }),
  C: () => ({
    messages: user('Keep calling.'),
    turns: [
      { text: callText('1/0'), toolOutput: out('1/0') },
      { text: callText('print(2)'), toolOutput: out('print(2)') },
      { text: callText('print(3)') },
    ],
  }),
  D: () => ({ messages: user('Sleep.'), turns: [{ text: callText('import time\ntime.sleep(5)'), toolOutput: out('import time\ntime.sleep(5)') }, { text: '\\boxed{1}' }] }),
};

const task = (key: string, extra: Partial<TrajectoryTask> = {}): TrajectoryTask => ({
  run: 'r', step: 0, promptUid: key, sampleIndex: 0, dataSource: 'deepscaler', ability: 'math', validation: false, seed: 5,
  messages: SCRIPTS[key]().messages, ...extra,
});

before(async () => {
  tok = loadChatModel(TINY_DIR);
  sandbox = createLocalSandbox({ poolSize: 2 });
  tools = new ToolRunner({ sandbox, concurrency: 2, timeoutMs: 1000, memoryMb: 512, outputChars: 256 });
  const { config, weights } = await scriptedTinyModel(tok, Object.values(SCRIPTS).map((s) => s()));
  sampler = await Sampler.create(config, { weights });
  deps = { tok, policy: new SerialSamplerPolicy(sampler), tools, settings: SETTINGS };
});
after(async () => {
  await sampler?.close();
  await sandbox?.close();
});

/** The ids of rendering the recorded conversation at once (ChatML closes the last turn with a newline). */
function fullRender(t: TrajectoryRecord, messages: ChatMessage[]): number[] {
  const conv: ChatMessage[] = [...messages];
  for (const turn of t.turns) {
    conv.push({ role: 'assistant', content: turn.text });
    for (const o of turn.toolOutput) conv.push({ role: 'tool', content: o });
  }
  return tok.encode(tok.render(conv, { tools: [CODE_INTERPRETER_TOOL], addGenerationPrompt: false }));
}

/** The record without tool_time_ms, the one column that measures the machine rather than the rollout. */
const untimed = (t: TrajectoryRecord) => ({ ...t, turns: t.turns.map((x) => ({ ...x, toolTimeMs: null })) });

function checkTokens(t: TrajectoryRecord): void {
  const toolTokens = t.turns.reduce((n, x) => n + x.toolTokens, 0);
  assert.equal(t.responseMask.filter((m) => m === 0).length, toolTokens, 'mask 0 exactly on the tool turns');
  t.responseMask.forEach((m, i) => {
    if (m === 0) assert.equal(t.rolloutLogProbs[i], 0);
  });
  assert.equal(t.responseLength, t.responseIds.length);
}

describe('agent loop (tiny model, real sandbox)', () => {
  test('a call runs, its output is appended with mask 0, the answer ends the episode; ids equal the full render', async () => {
    const t = await runTrajectory(task('A'), deps);
    assert.equal(t.finishReason, 'stop');
    assert.deepEqual([t.numTurns, t.toolRounds, t.malformedCalls], [2, 1, 0]);
    assert.deepEqual([t.turns[0].parseStatus, t.turns[0].toolStatus, t.turns[0].toolInput, t.turns[0].toolOutput], ['ok', 'finished', 'print(6*7)', ['42\n']]);
    assert.equal(t.turns[0].call, '{"arguments":{"code":"print(6*7)"},"name":"code_interpreter"}');
    assert.equal(t.turns[1].text, 'So \\boxed{42}.');
    assert.equal(t.turns[1].parseStatus, 'no_call');
    checkTokens(t);
    assert.deepEqual([...t.promptIds, ...t.responseIds, ...tok.encode('\n')], fullRender(t, task('A').messages));
  });

  test('a malformed call gets its error text, is counted, and is not a round', async () => {
    const t = await runTrajectory(task('B'), deps);
    assert.deepEqual([t.finishReason, t.toolRounds, t.malformedCalls], ['stop', 0, 1]);
    assert.equal(t.turns[0].parseStatus, 'invalid_json');
    assert.equal(t.turns[0].toolStatus, 'malformed');
    assert.equal(t.turns[0].call, null);
    assert.match(t.turns[0].toolOutput[0], /^Error: tool call 1 is not valid JSON/);
    checkTokens(t);
  });

  test('program errors are executed rounds; a call in the max_turns-th turn never runs', async () => {
    const t = await runTrajectory(task('C'), deps);
    assert.equal(t.finishReason, 'max_turns');
    assert.deepEqual(t.turns.map((x) => x.toolStatus), ['error', 'finished', 'not_run_turn_cap']);
    assert.match(t.turns[0].toolOutput[0], /ZeroDivisionError/);
    assert.equal(t.toolRounds, 2);
    assert.deepEqual(t.turns[2].toolOutput, []);
    assert.equal(t.turns[2].toolTokens, 0);
    checkTokens(t);
  });

  test('a time-out is an executed round with the fixed message', async () => {
    const t = await runTrajectory(task('D'), deps);
    assert.deepEqual([t.turns[0].toolStatus, t.turns[0].toolOutput, t.toolRounds], ['timeout', ['Execution timed out after 1 seconds.'], 1]);
    assert.ok(t.turns[0].toolTimeMs! >= 1000);
  });

  test('the response budget: a tool turn that would exceed it is not appended; a generation stops at it', async () => {
    const full = await runTrajectory(task('A'), deps);
    const first = full.turns[0].generatedTokens;
    const tight = await runTrajectory(task('A'), { ...deps, settings: { ...SETTINGS, maxResponseLength: first + 3 } });
    assert.deepEqual([tight.finishReason, tight.toolRounds, tight.responseLength, tight.numTurns], ['tool_budget', 0, first, 1]);
    assert.equal(tight.turns[0].toolStatus, 'not_appended_budget');
    assert.deepEqual(tight.responseMask, new Array(first).fill(1));
    const cut = await runTrajectory(task('A'), { ...deps, settings: { ...SETTINGS, maxResponseLength: 10 } });
    assert.deepEqual([cut.finishReason, cut.responseLength, cut.numTurns, cut.toolRounds], ['length', 10, 1, 0]);
  });

  test('concurrent trajectories equal the same trajectories run alone; sampling is seeded per (seed, step, uid, index)', async () => {
    const alone = [];
    for (const k of ['A', 'B', 'C', 'D']) alone.push(await runTrajectory(task(k), deps));
    const together = await Promise.all(['A', 'B', 'C', 'D'].map((k) => runTrajectory(task(k), deps)));
    assert.deepEqual(together.map(untimed), alone.map(untimed));
    const hot = { ...deps, settings: { ...SETTINGS, temperature: 5, maxResponseLength: 32 } }; // hot enough that the taught answer is not certain
    const g1 = await runGroup({ ...task('A'), step: 3 }, 3, hot);
    const g2 = await runGroup({ ...task('A'), step: 3 }, 3, hot);
    assert.deepEqual(g1.map(untimed), g2.map(untimed));
    assert.deepEqual(g1.map((t) => t.samplingSeed), [0, 1, 2].map((i) => String(trajectorySeed(5, 3, 'A', i))));
    assert.notDeepEqual(g1[0].responseIds, g1[1].responseIds);
  });

  test('a sandbox that keeps failing fails the rollout; the model never sees the failure', async () => {
    const dead = new ToolRunner({ sandbox: createSandboxFusion({ baseUrl: 'http://127.0.0.1:9', retries: 0, backoffMs: 1 }), concurrency: 1, timeoutMs: 1000, memoryMb: 512, outputChars: 256, attempts: 2, backoffMs: 1 });
    await assert.rejects(runTrajectory(task('A'), { ...deps, tools: dead }), (e: Error) => e instanceof ToolInfrastructureError && /failed on a tool call 2 times/.test(e.message));
    // The failed trajectory's sequence was released: the next rollout still reproduces.
    const again = await runTrajectory(task('A'), deps);
    assert.equal(again.turns[0].toolOutput[0], '42\n');
  });
});
