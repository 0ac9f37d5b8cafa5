// A short GRPO-TCR run on a real Temporal dev server with the tiny model (seeded fresh weights), math rows and code
// rows (TACO call-based and LeetCode): the run finishes its steps, a row whose ground truth cannot be parsed is
// rejected with its uid before training, every stored trajectory's reward and advantage agree with the formulas
// recomputed from the stored record, the metrics table has one row per step (validation at step 0 included) with
// verl's names, and a second run of the same recipe ends with a byte-identical checkpoint.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { readTrajectoryFile } from '../../schemas/trajectory.ts';
import { startInProcessWorker, startTestServer, uniqueQueue } from '../support/temporal.ts';
import type { TestServer } from '../support/temporal.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';
import { defaultPayloadConverter } from '@temporalio/common';
import { newsDue } from '../../workflows/progress.ts';
import type { GrpoStageResult, OutputRecord, StageAudit, StageProgress } from '../../schemas/stage.ts';
import { grpoRunSchema } from '../../schemas/grpo.ts';
import { sha256File } from '../../core/digest.ts';
import { readRun, renderRunReport } from '../../report/index.ts';

const TINY = new URL('../../recipes/models/tiny/', import.meta.url).pathname;
let env: TestServer;
let worker: { stop(): Promise<void> };
let queue: string;
let data: string;

before(async () => {
  env = await startTestServer();
  queue = uniqueQueue('grpo');
  worker = await startInProcessWorker(env.server.address, queue);
  const dir = mkdtempSync(join(tmpdir(), 'grpo-data-'));
  data = join(dir, 'rl.parquet');
  writeFileSync(data, rlParquetBytes([...RL_ROWS, { uid: 'bad-gt', dataSource: 'taco_code', ability: 'code', problem: 'x', groundTruth: '{"inputs": [1]' }]));
});
after(async () => {
  await worker?.stop();
  await env?.close();
});

function recipe(out: string) {
  return {
    seed: 17,
    output_dir: out,
    runtime: { heartbeat_timeout_s: 20, max_attempts: 3 },
    model: { path: TINY, init_seed: 3 },
    grpo: {
      data: { files: [data] },
      val: { fraction: 0.25 },
      epochs: 1,
      batch_size: 2,
      n: 2,
      mini_batch_size: 1,
      max_prompt_length: 2048,
      max_response_length: 48,
      max_turns: 3,
      lr: 1e-3,
      rollout: { temperature: 1.0 },
      reward: { overlong: { buffer: 24 } },
      validation: { every_steps: 1, before_training: true, n: 2 },
      tool: { concurrency: 2, timeout_s: 5 },
      save_every_steps: 1,
    },
  };
}

const round12 = (x: number) => Math.round(x * 1e12) / 1e12;
const testStarted = new Date().toISOString();

/**
 * The grpo audit carries what every stage's does (recipe name and effective recipe, start and finish times,
 * inputs and outputs with sha256 and rows, step timings), and the report's recipe and lineage tables show them.
 */
async function assertAuditFields(audit: StageAudit<unknown, OutputRecord>, out: string, dir: string): Promise<void> {
  assert.equal(audit.stage, 'grpo');
  assert.equal(audit.recipeName, 'agentrl', 'the default name: the recipe gives none');
  assert.deepEqual(audit.recipe, JSON.parse(JSON.stringify(grpoRunSchema.parse(recipe(out)))), 'the effective recipe, defaults filled');
  assert.ok(testStarted <= audit.startedAt && audit.startedAt < audit.finishedAt && audit.finishedAt <= new Date().toISOString(), `${audit.startedAt} .. ${audit.finishedAt}`);
  assert.deepEqual(audit.timings.map((t) => t.step), ['prepare', 'rl steps']);
  assert.equal(audit.timings[0].startedAt, audit.startedAt);
  assert.deepEqual(audit.inputs.rl_data, [{ path: data, sha256: await sha256File(data), bytes: statSync(data).size, rows: RL_ROWS.length + 1 }]);
  assert.deepEqual(audit.inputs.model.map((f) => f.path), ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(TINY, f)), 'the tiny model has no weights (seeded init)');
  const outputs = ['metrics', 'rejects', 'prompts', 'model/config.json', 'model/model.safetensors', 'model/tokenizer.json', 'model/tokenizer_config.json'];
  for (const f of [...audit.inputs.model, ...outputs.map((name) => audit.outputs[name])]) assert.equal(f.sha256, await sha256File(f.path), f.path);
  assert.equal(audit.outputs['model/model.safetensors'].path, join(dir, 'checkpoints', 'step-000002', 'model.safetensors'));
  assert.equal(audit.outputs.rejects.rows, 1);
  assert.equal(audit.outputs.metrics.rows, 3);
  assert.equal(audit.outputs.prompts.rows, 6);

  const html = await renderRunReport(readRun(join(out, 'grpo-a')));
  const shows = (text: string, what: string) => assert.ok(html.includes(text), `${what}: ${text}`);
  shows(`<td>grpo</td><td>agentrl</td><td><code>${audit.recipeHash}</code></td><td class="n">17</td>`, 'recipe table: name, hash, seed');
  shows(`<td>${audit.startedAt}</td><td>${audit.finishedAt}</td>`, 'recipe table: started and finished');
  shows('Effective recipe (defaults filled), from the grpo audit', 'the effective recipe');
  shows(`<td>input</td><td>rl_data</td><td><code>${data}</code></td><td class="n">7</td><td class="n">${statSync(data).size}</td><td><code>${audit.inputs.rl_data[0].sha256}</code>`, 'lineage: the RL file');
  shows('<td>output</td><td>model/model.safetensors</td><td><code>grpo/checkpoints/step-000002/model.safetensors</code>', 'lineage: the trained model');
}

async function runOnce(id: string): Promise<{ out: string; result: GrpoStageResult }> {
  const out = mkdtempSync(join(tmpdir(), 'grpo-out-'));
  const result = (await env.client.workflow.execute('grpoWorkflow', { taskQueue: queue, workflowId: id, args: [recipe(out)] })) as GrpoStageResult;
  return { out, result };
}

let firstRun: Promise<{ out: string; result: GrpoStageResult }> | undefined;
/** The plain run 'grpo-a', shared by the tests that compare against it (started once). */
const plainRun = () => (firstRun ??= runOnce('grpo-a'));

test('a short GRPO run: rejects, stored rewards/advantages by the formulas, one metrics row per step, reproducible checkpoint', async () => {
  const { out, result } = await plainRun();
  assert.equal(result.steps, 2); // 6 good rows - 2 for validation = 4 prompts, batch 2
  const dir = join(out, 'grpo-a', 'grpo');
  const rejects = JSON.parse(readFileSync(join(dir, 'rejects.json'), 'utf8')) as { uid: string; reason: string }[];
  assert.deepEqual(rejects.map((r) => r.uid), ['bad-gt']);
  assert.match(rejects[0].reason, /row bad-gt: reward_model\.ground_truth/);
  for (const step of [1, 2]) {
    const records = await readTrajectoryFile(join(dir, 'work', 'scored', `step-00000${step}.arrow`));
    assert.equal(records.length, 4);
    for (const r of records) {
      const tcr = r.outcome! < 0 ? Math.min(-0.6, r.outcome! + 0.1 * r.toolRounds) - r.outcome! : 0;
      assert.equal(r.tcr, round12(tcr));
      const overlong = Math.min(0, -(r.responseLength - (48 - 24)) / 24);
      assert.equal(r.overlong, round12(overlong) || 0);
      assert.equal(r.reward, round12(r.outcome! + r.tcr! + r.overlong!));
    }
    for (const uid of new Set(records.map((r) => r.promptUid))) {
      const g = records.filter((r) => r.promptUid === uid);
      const mean = (g[0].reward! + g[1].reward!) / 2;
      const std = Math.abs(g[0].reward! - g[1].reward!) / Math.SQRT2;
      for (const r of g) assert.ok(Math.abs(r.advantage! - (std === 0 ? 0 : (r.reward! - mean) / (std + 1e-6))) < 1e-12);
    }
    const val = await readTrajectoryFile(join(dir, 'work', 'scored', `step-00000${step}-val.arrow`));
    assert.ok(val.length === 4 && val.every((r) => r.validation && r.advantage === null));
  }
  const table = tableFromIPC(readParquet(readFileSync(join(dir, 'metrics.parquet'))).intoIPCStream());
  assert.deepEqual(Array.from(table.getChild('step')!.toArray()), [0, 1, 2]);
  for (const name of ['critic/score/mean', 'critic/advantages/min', 'response_length/clip_ratio', 'num_turns/mean', 'tool_call_counts/mean', 'actor/pg_loss', 'actor/grad_norm', 'actor/entropy', 'frac_reward_zero_std', 'timing_s/gen', 'perf/throughput']) {
    assert.ok(table.getChild(name), `metrics column ${name}`);
  }
  assert.ok(table.schema.fields.some((f) => /^val-core\/.+\/acc\/mean@2$/.test(f.name)));
  for (const step of ['000001', '000002']) {
    for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) assert.ok(existsSync(join(dir, 'checkpoints', `step-${step}`, f)), `HF export ${step}/${f}`);
  }
  const audit = JSON.parse(readFileSync(join(dir, 'audit.json'), 'utf8'));
  assert.deepEqual(audit.counts, { train: 4, validation: 2, rejected: 1, stepsPerEpoch: 2, steps: 2 });
  assert.equal(audit.outputs.checkpoint.sha256, result.checkpoint.sha256);
  await assertAuditFields(audit, out, dir);
  const again = await runOnce('grpo-b');
  assert.equal(again.result.checkpoint.sha256, result.checkpoint.sha256, 'byte-identical final checkpoint');
});

test('continue-as-new after every step: the run completes with the same final checkpoint and one metrics row per step', async () => {
  const plain = await plainRun();
  const out = mkdtempSync(join(tmpdir(), 'grpo-can-'));
  const r = recipe(out);
  const handle = await env.client.workflow.start('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-can', args: [{ ...r, runtime: { ...r.runtime, continue_as_new_every_steps: 1 } }] });
  const result = (await handle.result()) as GrpoStageResult;
  assert.equal(result.steps, 2);
  assert.equal(result.checkpoint.sha256, plain.result.checkpoint.sha256, 'same final checkpoint as the run without continue-as-new');
  // The first run's history ends in continue-as-new (after step 1); the second run finishes.
  const first = await env.client.workflow.getHandle('grpo-can', handle.firstExecutionRunId).fetchHistory();
  const lastEvent = first.events!.at(-1)!;
  assert.ok(lastEvent.workflowExecutionContinuedAsNewEventAttributes, 'the first run continued as new');
  const nextRunId = lastEvent.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId!;
  const second = await env.client.workflow.getHandle('grpo-can', nextRunId).fetchHistory();
  assert.ok(second.events!.at(-1)!.workflowExecutionCompletedEventAttributes, 'the second run completed');
  const steps = readFileSync(join(out, 'grpo-can', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).step);
  assert.deepEqual(steps, [0, 1, 2]);
  const table = tableFromIPC(readParquet(readFileSync(join(out, 'grpo-can', 'grpo', 'metrics.parquet'))).intoIPCStream());
  assert.deepEqual(Array.from(table.getChild('step')!.toArray()), [0, 1, 2]);
  const audit = JSON.parse(readFileSync(join(out, 'grpo-can', 'grpo', 'audit.json'), 'utf8')) as StageAudit<unknown, OutputRecord>;
  assert.equal(audit.timings[0].startedAt, audit.startedAt, 'the start time and the prepare timing are carried across continue-as-new');
  assert.deepEqual(audit.timings.map((t) => t.step), ['prepare', 'rl steps']);
});

/** The stage-progress signals a pipeline received, in order (its history). */
async function progressSignals(workflowId: string): Promise<StageProgress[]> {
  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? [])
    .map((e) => e.workflowExecutionSignaledEventAttributes)
    .filter((a) => a?.signalName === 'stageProgress')
    .map((a) => defaultPayloadConverter.fromPayload(a!.input!.payloads![0]) as StageProgress);
}

test('the pipeline runs the grpo stage as its child (until defaults to grpo); the stage tells the pipeline its step and metrics, across continue-as-new', async () => {
  const out = mkdtempSync(join(tmpdir(), 'grpo-pipe-'));
  const r = recipe(out);
  const run = { ...r, runtime: { ...r.runtime, continue_as_new_every_steps: 1 }, grpo: { ...r.grpo, validation: { every_steps: 0, before_training: false, n: 1 } } };
  const result = (await env.client.workflow.execute('pipelineWorkflow', { taskQueue: queue, workflowId: 'grpo-pipe', args: [run] })) as { stages: { grpo?: GrpoStageResult } };
  assert.equal(result.stages.grpo?.steps, 2);
  assert.ok(readFileSync(join(out, 'grpo-pipe', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').length === 2);
  // What the pipeline's own page showed while the stage ran: the steps to come, then each RL step (2 of them,
  // under the cap) with its headline metrics; the second step's news came from the run the first continued as.
  const told = await progressSignals('grpo-pipe');
  assert.deepEqual(told.map((p) => `${p.stage}: ${p.state}`), ['grpo: prepared: 2 RL steps', 'grpo: step 1/2 done', 'grpo: step 2/2 done']);
  assert.deepEqual([told[0].step, told[0].totalSteps], [0, 2]);
  for (const p of told.slice(1)) {
    assert.equal(p.totalSteps, 2);
    assert.deepEqual(p.latest?.map(([label]) => label), ['score', 'tool calls', 'response length', 'entropy', 'pg_loss']);
    assert.ok(p.latest!.every(([, v]) => Number.isFinite(v)), JSON.stringify(p.latest));
  }
  const metrics = readFileSync(join(out, 'grpo-pipe', 'grpo', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  assert.equal(told[2].latest![0][1], metrics[1]['critic/score/mean'], "the score shown is the step's metrics row");
});

test("a stage's news to the pipeline is bounded whatever its length (each signal is a row on the pipeline's timeline), and includes its last step", () => {
  for (const [total, most] of [[2, 8], [20, 8], [105, 8], [10_000, 8], [4, 4], [3, 4]]) {
    const due = Array.from({ length: total }, (_, i) => i + 1).filter((done) => newsDue(done, total, most));
    assert.ok(due.length <= most + 1 && due.length >= Math.min(total, most) / 2, `${total} units, at most ${most}: ${due.length} (${due.slice(0, 12).join(', ')})`);
    assert.equal(due.at(-1), total);
  }
});

test('a baseline model is validated before training beside the policy: val-baseline/ metrics, its own scored record, an audit input, the same step 1', async () => {
  const { out: plainOut } = await plainRun();
  const out = mkdtempSync(join(tmpdir(), 'grpo-baseline-'));
  const r = recipe(out);
  const baselineModel = { path: TINY, init_seed: 4 };
  await env.client.workflow.execute('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-base', args: [{ ...r, grpo: { ...r.grpo, total_steps: 1, validation: { ...r.grpo.validation, baseline_model: baselineModel } } }] });
  const dir = join(out, 'grpo-base', 'grpo');
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
  const sourcesOf = (row: Record<string, number>, prefix: string) => Object.keys(row).filter((k) => k.startsWith(prefix) && k.endsWith('/acc/mean@2')).map((k) => k.split('/')[1]).sort();
  assert.ok(sourcesOf(rows[0], 'val-core/').length > 0);
  assert.deepEqual(sourcesOf(rows[0], 'val-baseline/'), sourcesOf(rows[0], 'val-core/'), 'the baseline is scored on the same sources, before training');
  assert.ok(Object.keys(rows[0]).some((k) => /^val-baseline\/[^/]+\/tool_call_rate$/.test(k)));
  assert.ok(!Object.keys(rows[1]).some((k) => k.startsWith('val-baseline/')), 'only before training');
  const policy = await readTrajectoryFile(join(dir, 'work', 'scored', 'step-000000-val.arrow'));
  const baseline = await readTrajectoryFile(join(dir, 'work', 'scored', 'step-000000-val-baseline.arrow'));
  assert.deepEqual(baseline.map((x) => x.promptUid), policy.map((x) => x.promptUid), 'the same prompts and samples');
  assert.ok(baseline.every((x) => x.validation), 'validation records');
  assert.notDeepEqual(baseline.map((x) => x.responseIds), policy.map((x) => x.responseIds), 'another model answered');
  const audit = JSON.parse(readFileSync(join(dir, 'audit.json'), 'utf8')) as StageAudit<unknown, OutputRecord>;
  assert.deepEqual(audit.inputs.baseline_model.map((f) => f.path), ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map((f) => join(TINY, f)));
  assert.deepEqual((audit.recipe as { grpo: { validation: { baseline_model: unknown } } }).grpo.validation.baseline_model, baselineModel);
  // Validating another model before training leaves training as it was: step 1's update is the plain run's.
  const step1 = async (o: string, id: string) => (await readTrajectoryFile(join(o, id, 'grpo', 'work', 'scored', 'step-000001.arrow'))).map((x) => [x.promptUid, x.responseIds, x.reward, x.advantage]);
  assert.deepEqual(await step1(out, 'grpo-base'), await step1(plainOut, 'grpo-a'), "step 1's answers, rewards and advantages are the run's without a baseline");

  // The pipeline's baseline is the directory the policy was exported from: the template moved into
  // tokenizer_config.json there, and that is the same chat model. Another template would not be: refused.
  const moved = mkdtempSync(join(tmpdir(), 'grpo-moved-template-'));
  cpSync(TINY, moved, { recursive: true });
  const config = JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
  writeFileSync(join(moved, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: readFileSync(join(TINY, 'chat_template.jinja'), 'utf8') }));
  rmSync(join(moved, 'chat_template.jinja'));
  const withBaseline = (id: string, path: string) => ({ taskQueue: queue, workflowId: id, args: [{ ...r, output_dir: mkdtempSync(join(tmpdir(), 'grpo-b-')), grpo: { ...r.grpo, total_steps: 1, validation: { ...r.grpo.validation, every_steps: 0, baseline_model: { path, init_seed: 4 } } } }] });
  await env.client.workflow.execute('grpoWorkflow', withBaseline('grpo-base-moved', moved));
  const other = mkdtempSync(join(tmpdir(), 'grpo-other-template-'));
  cpSync(TINY, other, { recursive: true });
  writeFileSync(join(other, 'chat_template.jinja'), readFileSync(join(TINY, 'chat_template.jinja'), 'utf8').replace('<|im_start|>', '<|im_start|> '));
  await assert.rejects(
    env.client.workflow.execute('grpoWorkflow', withBaseline('grpo-base-other', other)),
    (err: Error) => causeMessage(err).includes(`grpo.validation.baseline_model: the tokenizer or chat template in ${other} differs from the policy's`),
  );
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

test('settings the workflow cannot honour fail fast, naming the field', async () => {
  const out = mkdtempSync(join(tmpdir(), 'grpo-bad-'));
  const r = recipe(out);
  await assert.rejects(
    env.client.workflow.execute('grpoWorkflow', { taskQueue: queue, workflowId: 'grpo-badmax', args: [{ ...r, grpo: { ...r.grpo, max_response_length: 10 } }] }),
    (err: Error) => /reward\.overlong\.buffer/.test(causeMessage(err)),
  );
});
