// GRPO step benchmark: one GRPO-TCR RL step (batch_size prompts x n multi-turn responses with real tool calls in
// the real sandbox, scoring, old log-probs, one PPO epoch) on our stack, against a PyTorch + transformers script
// doing the same work in the same invocation (bench/grpo/torch_grpo.py). A model with random weights never
// writes a tool call, so both sides load the tiny model taught scripted tool trajectories
// (test/agent/scriptedModel.ts), saved once as a Hugging Face directory. Runs alternate (ours, baseline,
// baseline, ours, ...) and medians are reported: the machine is shared.
//
//   node --import tsx bench/grpo/run.ts [--repeats 3] [--n 8] [--temperature 1] [--threads <cores>] [--learner fresh|kept]
//
// --learner fresh (default): a new Learner per step, as the GRPO update activity creates one, so its first calls
// are in the clock; kept: one Learner across steps (steady state, like the baseline's warmed process).
//
// Writes bench/out/grpo/result-t<threads>-<learner>.json and prints a markdown table (docs/BENCHMARKS.md, "GRPO step").
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CODE_INTERPRETER_TOOL, loadChatModel, RolloutBuilder } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer } from '../../chat/index.ts';
import { grpoUpdate, runGroup, SamplerPolicy, scoreRecords, ToolRunner, withAdvantages } from '../../agent/index.ts';
import type { AgentSettings } from '../../agent/index.ts';
import { Learner } from '../../engine/learner.ts';
import { Sampler } from '../../engine/sampler.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { parseRewardSettings } from '../../schemas/reward.ts';
import type { TrajectoryRecord } from '../../schemas/trajectory.ts';
import { createLocalSandbox } from '../../sandbox/index.ts';
import { loadBaseModel } from '../../training/index.ts';
import { callText, saveScriptedModel, TINY_DIR } from '../../test/agent/scriptedModel.ts';
import type { Script } from '../../test/agent/scriptedModel.ts';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, n: { type: 'string', default: '8' }, temperature: { type: 'string', default: '1' }, threads: { type: 'string' }, learner: { type: 'string', default: 'fresh' } } });
const OUT = join(PROJECT_ROOT, 'bench/out/grpo');
const PY = join(PROJECT_ROOT, '.tools/py/bin/python');
// Intra-op threads of both sides (default: every core, each side's own default).
const threads = values.threads ? Number(values.threads) : availableParallelism();
if (values.learner !== 'fresh' && values.learner !== 'kept') throw new Error(`--learner: fresh or kept, got ${values.learner}`);
const n = Number(values.n);
const repeats = Number(values.repeats);
mkdirSync(OUT, { recursive: true });

const SEED = 1;
const SETTINGS: AgentSettings = { maxTurns: 4, maxPromptLength: 512, maxResponseLength: 1024, temperature: Number(values.temperature), topP: 1 };
const TOOL = { poolSize: Math.min(4, availableParallelism()), concurrency: 4, timeoutMs: 5000, memoryMb: 512, outputChars: 256 };
const REWARD = { tcrPerRound: 0.1, tcrCap: -0.6, bufferTokens: 200, maxResponseTokens: SETTINGS.maxResponseLength, factor: 1 };
const UPDATE = { miniBatchGroups: 1, epsLow: 0.2, epsHigh: 0.28, dualClipC: 3, lr: 1e-5, weightDecay: 0.01, gradClip: 1.0 };

const user = (content: string): ChatMessage[] => [{ role: 'user', content }];
const PROMPTS = [
  { uid: 'p0', groundTruth: '42', messages: user('Six times seven?'), code: ['print(6*7)'] },
  { uid: 'p1', groundTruth: '120', messages: user('Five factorial?'), code: ['import math\nprint(math.factorial(5))'] },
  { uid: 'p2', groundTruth: '55', messages: user('Sum of 1..10?'), code: ['print(sum(range(11)))', 'print(sum(range(1, 11)))'] },
  { uid: 'p3', groundTruth: '1024', messages: user('Two to the tenth?'), code: ['x = 2 ** 10\nprint(x)', 'print(1 << 10)'] },
];
const ROWS = new Map(PROMPTS.map((p) => [p.uid, { uid: p.uid, dataSource: 'bench_math', ability: 'math', groundTruth: p.groundTruth }]));

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

/** The scripted model: each prompt's calls in turn, then a boxed answer (both sides load it from `dir`). */
async function teach(dir: string, tok: ChatTokenizer, tools: ToolRunner): Promise<void> {
  const scripts: Script[] = PROMPTS.map((p) => ({
    messages: p.messages,
    turns: [...p.code.map((code) => ({ text: callText(code), toolOutput: async () => (await tools.run({ code })).text })), { text: `The answer is \\boxed{${p.groundTruth}}.` }],
  }));
  await saveScriptedModel(dir, tok, scripts);
}

type Split = Record<'step_s' | 'rollout_s' | 'tools_s' | 'scoring_s' | 'old_logprob_s' | 'update_s', number>;
type Shape = { mean_response_length: number; generated_tokens: number; tool_calls_per_trajectory: number; turns_per_trajectory: number; mean_reward: number };

function shapeOf(records: TrajectoryRecord[]): Shape {
  const k = records.length;
  return {
    mean_response_length: records.reduce((a, r) => a + r.responseLength, 0) / k,
    generated_tokens: records.reduce((a, r) => a + r.responseMask.reduce((m, x) => m + x, 0), 0),
    tool_calls_per_trajectory: records.reduce((a, r) => a + r.toolRounds, 0) / k,
    turns_per_trajectory: records.reduce((a, r) => a + r.numTurns, 0) / k,
    mean_reward: records.reduce((a, r) => a + r.reward!, 0) / k,
  };
}

function newLearner(base: Awaited<ReturnType<typeof loadBaseModel>>): Promise<Learner> {
  return Learner.create(base.config, base.weights, { seed: SEED, deviceOptions: { threads }, optimizer: { beta1: 0.9, beta2: 0.999, weightDecay: UPDATE.weightDecay, maxGradNorm: UPDATE.gradClip } });
}

async function oursStep(dir: string, tok: ChatTokenizer, sampler: Sampler, tools: ToolRunner, sandbox: ReturnType<typeof createLocalSandbox>, step: number, kept: Learner | null): Promise<Split & Shape> {
  // Created before the clock starts, like the baseline's model and optimizer.
  const learner = kept ?? (await newLearner(await loadBaseModel(dir)));
  try {
    const deps = { tok, policy: new SamplerPolicy(sampler), tools, settings: SETTINGS };
    const t0 = performance.now();
    const groups = await Promise.all(PROMPTS.map((p) => runGroup({ run: 'bench', step, promptUid: p.uid, dataSource: 'bench_math', ability: 'math', validation: false, seed: SEED, messages: p.messages }, n, deps)));
    const t1 = performance.now();
    const scored = withAdvantages(await scoreRecords(groups.flat(), ROWS, tok, { settings: parseRewardSettings({ overlong: { bufferTokens: REWARD.bufferTokens, maxResponseTokens: REWARD.maxResponseTokens } }), sandbox })).records;
    const t2 = performance.now();
    const upd = await grpoUpdate(learner, scored, { miniBatchGroups: UPDATE.miniBatchGroups, epsLow: UPDATE.epsLow, epsHigh: UPDATE.epsHigh, dualClipC: UPDATE.dualClipC, lr: UPDATE.lr, microTokens: 16_384 });
    const t3 = performance.now();
    const toolsS = scored.reduce((a, r) => a + r.turns.reduce((m, t) => m + (t.toolTimeMs ?? 0), 0), 0) / 1000;
    const old = upd['timing_s/old_log_prob'];
    return { step_s: (t3 - t0) / 1000, rollout_s: (t1 - t0) / 1000, tools_s: toolsS, scoring_s: (t2 - t1) / 1000, old_logprob_s: old, update_s: (t3 - t2) / 1000 - old, ...shapeOf(scored) };
  } finally {
    if (!kept) await learner.close();
  }
}

function torchStep(planPath: string): Split & Shape & { generation_s: number } {
  const r = spawnSync(PY, [join(PROJECT_ROOT, 'bench/grpo/torch_grpo.py'), planPath], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`torch_grpo.py: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

const tok = loadChatModel(TINY_DIR);
const sandbox = createLocalSandbox({ poolSize: TOOL.poolSize });
const tools = new ToolRunner({ sandbox, concurrency: TOOL.concurrency, timeoutMs: TOOL.timeoutMs, memoryMb: TOOL.memoryMb, outputChars: TOOL.outputChars });
const modelDir = join(OUT, 'model-tiny');
mkdirSync(modelDir, { recursive: true });
await teach(modelDir, tok, tools);
const base = await loadBaseModel(modelDir);
const sampler = await Sampler.create(base.config, { weights: base.weights, deviceOptions: { threads } });
const kept = values.learner === 'kept' ? await newLearner(base) : null;
const plan = {
  model_dir: modelDir, threads, seed: SEED, n, settings: SETTINGS, reward: REWARD, update: UPDATE, tools: [CODE_INTERPRETER_TOOL],
  prompts: PROMPTS.map((p) => ({ ids: [...RolloutBuilder.fromPrompt(tok, p.messages, [CODE_INTERPRETER_TOOL]).ids], groundTruth: p.groundTruth })),
  bridge: [process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'bench/grpo/tool-bridge.ts'), JSON.stringify(TOOL)],
};
const planPath = join(OUT, 'plan-tiny.json');
writeFileSync(planPath, JSON.stringify(plan));

// One discarded step each (program loading, first sandbox forks; the baseline discards one inside each run, as
// every run is a new process), then alternating measured steps.
await oursStep(modelDir, tok, sampler, tools, sandbox, 0, kept);
const ours: (Split & Shape)[] = [];
const torch: (Split & Shape & { generation_s: number })[] = [];
for (let i = 0; i < repeats; i++) {
  for (const side of i % 2 === 0 ? ['ours', 'torch'] : ['torch', 'ours']) {
    if (side === 'ours') ours.push(await oursStep(modelDir, tok, sampler, tools, sandbox, i + 1, kept));
    else torch.push(torchStep(planPath));
    console.error(side, JSON.stringify(side === 'ours' ? ours.at(-1) : torch.at(-1)));
  }
}
await kept?.close();
await sampler.close();
await sandbox.close();
const med = <T extends object>(rows: T[]): T => Object.fromEntries(Object.keys(rows[0]).map((k) => [k, median(rows.map((r) => (r as Record<string, number>)[k]))])) as T;
const result = { model: 'tiny', threads, learner: values.learner, n, prompts: PROMPTS.length, settings: SETTINGS, repeats, ours: med(ours), torch: med(torch), ratio: median(torch.map((t) => t.step_s)) / median(ours.map((o) => o.step_s)), runs: { ours, torch } };
writeFileSync(join(OUT, `result-t${threads}-${values.learner}.json`), JSON.stringify(result, null, 2));
const f = (x: number) => x.toFixed(2);
const o = result.ours;
const t = result.torch;
console.log('| side | step s | rollout s (generation + tools) | tool time s | scoring s | old log-probs s | update s | mean response tokens | generated tokens | tool calls / traj | turns / traj | mean reward |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
console.log(`| ours | ${f(o.step_s)} | ${f(o.rollout_s)} | ${f(o.tools_s)} (summed, overlaps generation) | ${f(o.scoring_s)} | ${f(o.old_logprob_s)} | ${f(o.update_s)} | ${o.mean_response_length.toFixed(0)} | ${o.generated_tokens} | ${f(o.tool_calls_per_trajectory)} | ${f(o.turns_per_trajectory)} | ${f(o.mean_reward)} |`);
console.log(`| PyTorch | ${f(t.step_s)} | ${f(t.rollout_s)} (${f(t.generation_s)} + ${f(t.tools_s)}) | ${f(t.tools_s)} (wall, between turns) | ${f(t.scoring_s)} | ${f(t.old_logprob_s)} | ${f(t.update_s)} | ${t.mean_response_length.toFixed(0)} | ${t.generated_tokens} | ${f(t.tool_calls_per_trajectory)} | ${f(t.turns_per_trajectory)} | ${f(t.mean_reward)} |`);
console.log(`\nratio (PyTorch step / ours, medians of ${repeats}): ${f(result.ratio)}x`);
process.exit(0);
