// The GRPO-TCR stage's activities (thin glue over agent/, rewards/, training/): prepare the prompts and the first
// checkpoint, roll out one prompt group, score a step, update the policy, record the step's metrics. Every output
// is a file passed by reference; a retried activity finds the files an earlier attempt finished and reuses them
// (rollouts are never resampled once written; checkpoints are content-addressed).
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { runGroup, scoreRecords, withAdvantages, grpoUpdate, rolloutMetrics, validationMetrics } from '../agent/index.ts';
import type { MetricRow } from '../agent/index.ts';
import { Learner } from '../engine/learner.ts';
import { chatModelIdentity, readChatModelFiles } from '../chat/index.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { sha256Bytes } from '../core/digest.ts';
import { grpoRunSchema, rewardSettingsOf } from '../schemas/grpo.ts';
import { VAL_BASELINE_PREFIX } from '../schemas/headline-metrics.ts';
import type { GrpoContext, RlPrompt } from '../schemas/grpo.ts';
import type { CheckpointRef, GrpoCounts, OutputRecord, StepTiming } from '../schemas/stage.ts';
import { readTrajectoryFile, scoredRecordName, writeTrajectoryFile } from '../schemas/trajectory.ts';
import type { TrajectoryRecord } from '../schemas/trajectory.ts';
import { exportHfModel, loadBaseModel, loadTrainCheckpoint, saveTrainCheckpoint } from '../training/index.ts';
import type { BaseModel } from '../training/index.ts';
import { writeNamedArtifact } from '../datasets/artifacts.ts';
import { codeVersion, inputRecord, modelInputFiles, recipeHash, writeStageAudit } from './stage.ts';
import { metricsTableBytes } from './grpo-metrics.ts';
import { grpoStepsPerEpoch, readRlFiles, splitValidation, stepPrompts } from '../training/index.ts';
import { scoredPath } from './grpo-dynamic.ts';
import { sandboxFor, tokenizerFor, toolRunnerFor, withPolicy } from './grpo-resources.ts';

export interface FileRef {
  path: string;
  sha256: string;
  rows: number;
}

const pad = (step: number) => String(step).padStart(6, '0');
const badInput = (message: string) => ApplicationFailure.create({ type: 'BadInputError', message, nonRetryable: true });

/** Keeps a long activity's worker visibly alive (a dead worker is noticed within the heartbeat timeout). */
async function heartbeating<T>(work: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 2000);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function rlFiles(ctx: { baseDir: string; outputRoot: string; runId: string }, data: { from: 'balance' } | { files: string[] }): Promise<string[]> {
  if ('files' in data) return data.files.map((f) => (isAbsolute(f) ? f : resolve(ctx.baseDir, f)));
  const dir = join(ctx.outputRoot, ctx.runId, 'balance');
  const names = await readdir(dir).catch(() => [] as string[]);
  if (!names.includes('rl.parquet')) throw badInput(`grpo.data.from: balance, but ${join(dir, 'rl.parquet')} does not exist (run the balance stage first, or give grpo.data.files)`);
  return [join(dir, 'rl.parquet')];
}

export interface GrpoPrepared {
  ctx: GrpoContext;
  ckpt: CheckpointRef;
  /** Checkpoint 0 of grpo.validation.baseline_model, validated once before training beside the policy. */
  baseline?: CheckpointRef;
}

/** Checkpoint 0 of a model directory (seeded when it has no weights): what every rollout of it samples from. */
async function firstCheckpoint(workDir: string, base: BaseModel, g: GrpoContext['run']['grpo']): Promise<CheckpointRef> {
  const learner = await Learner.create(base.config, base.weights, { optimizer: optimizerOf(g) });
  try {
    return await saveTrainCheckpoint(join(workDir, 'ckpt'), { config: base.config, rawConfig: base.rawConfig, weights: base.weights, state: await learner.state(), step: 0, position: { epoch: 0, batch: 0 }, extra: {} });
  } finally {
    await learner.close();
  }
}

/**
 * The baseline model's checkpoint 0 and its files as read, or nothing when the recipe names none. Its rollouts
 * are tokenised with the policy's tokenizer, so a baseline with another tokenizer is refused.
 */
async function prepareBaseline(run: GrpoContext['run'], baseDir: string, modelDir: string, workDir: string): Promise<{ ckpt: CheckpointRef; inputs: GrpoContext['inputs'][string] } | undefined> {
  const spec = run.grpo.validation.baseline_model;
  if (!spec) return undefined;
  const dir = isAbsolute(spec.path) ? spec.path : resolve(baseDir, spec.path);
  const base = await loadBaseModel(dir, spec.init_seed).catch((err: Error) => {
    throw badInput(`grpo.validation.baseline_model.path: ${err.message}`);
  });
  const identity = (d: string) => {
    try {
      return chatModelIdentity(readChatModelFiles(d));
    } catch (err) {
      throw badInput(`grpo.validation.baseline_model: ${(err as Error).message}`);
    }
  };
  if (identity(dir) !== identity(modelDir)) {
    throw badInput(`grpo.validation.baseline_model: the tokenizer or chat template in ${dir} differs from the policy's in ${modelDir}; the baseline must share them (its answers are tokenised with the policy's)`);
  }
  return { ckpt: await firstCheckpoint(workDir, base, run.grpo), inputs: await Promise.all(modelInputFiles(dir, base.files).map((f) => inputRecord(f))) };
}

/** Validates the run, reads and checks the RL rows (rejects by uid), splits validation, saves checkpoint 0. */
export async function grpoPrepare(input: { run: unknown; workflowId: string }): Promise<GrpoPrepared> {
  const parsed = grpoRunSchema.safeParse(input.run);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n');
    throw ApplicationFailure.create({ type: 'RecipeError', message: `invalid recipe for run ${input.workflowId}:\n${issues}`, nonRetryable: true });
  }
  const run = parsed.data;
  const g = run.grpo;
  const baseDir = resolve(run.base_dir ?? process.cwd());
  const runId = run.run_id ?? input.workflowId;
  const outputRoot = isAbsolute(run.output_dir) ? run.output_dir : resolve(baseDir, run.output_dir);
  const outDir = join(outputRoot, runId, 'grpo');
  const workDir = join(outDir, 'work');
  await mkdir(workDir, { recursive: true });
  const modelDir = isAbsolute(run.model.path) ? run.model.path : resolve(baseDir, run.model.path);

  const train = await readRlFiles(await rlFiles({ baseDir, outputRoot, runId }, g.data));
  let split: { train: RlPrompt[]; val: RlPrompt[] };
  const rejects = [...train.rejects];
  const read = (files: { path: string; rows: number }[]) => Promise.all(files.map((f) => inputRecord(f.path, f.rows)));
  const inputs: GrpoContext['inputs'] = { rl_data: await read(train.perFile) };
  if ('files' in g.val) {
    const val = await readRlFiles(g.val.files.map((f) => (isAbsolute(f) ? f : resolve(baseDir, f))));
    inputs.val_data = await read(val.perFile);
    rejects.push(...val.rejects);
    const valUids = new Set(val.rows.map((r) => r.uid));
    split = { train: train.rows.filter((r) => !valUids.has(r.uid)), val: val.rows };
  } else {
    split = splitValidation(train.rows, g.val.fraction, run.seed);
  }
  const rejectsRef = await writeNamedArtifact(join(outDir, 'rejects.json'), canonicalJson(rejects, 2), 'json', rejects.length);
  const spe = grpoStepsPerEpoch(split.train.length, g.batch_size);
  if (spe === 0) throw badInput(`grpo: ${split.train.length} training prompts (after ${rejects.length} rejected and ${split.val.length} for validation) are fewer than batch_size ${g.batch_size}`);
  if (g.total_steps !== undefined && g.total_steps > spe * g.epochs) {
    throw badInput(`grpo.total_steps (${g.total_steps}) is more than grpo.epochs x steps per epoch (${g.epochs} x ${spe}: ${split.train.length} training prompts / batch_size ${g.batch_size}); raise epochs or lower total_steps`);
  }
  const prompts = await writeNamedArtifact(join(workDir, 'prompts.json'), canonicalJson({ train: split.train, val: split.val }), 'json', split.train.length + split.val.length);

  const base = await loadBaseModel(modelDir, run.model.init_seed).catch((err: Error) => {
    throw badInput(`model.path: ${err.message}`);
  });
  tokenizerFor(modelDir); // fail here, not mid-run, when the chat files are missing
  inputs.model = await Promise.all(modelInputFiles(modelDir, base.files).map((f) => inputRecord(f)));
  const ckpt = await firstCheckpoint(workDir, base, g);
  const baseline = await prepareBaseline(run, baseDir, modelDir, workDir);
  if (baseline) inputs.baseline_model = baseline.inputs;
  const ctx: GrpoContext = {
    runId, outDir, workDir, baseDir, modelDir, run,
    prompts: { path: prompts.path, sha256: prompts.sha256 },
    rejects: { path: rejectsRef.path, sha256: rejectsRef.sha256, rows: rejectsRef.rows },
    inputs,
    trainCount: split.train.length, valCount: split.val.length, rejected: rejects.length,
    stepsPerEpoch: spe, totalSteps: g.total_steps ?? spe * g.epochs,
  };
  return { ctx, ckpt, ...(baseline ? { baseline: baseline.ckpt } : {}) };
}

function optimizerOf(g: GrpoContext['run']['grpo']) {
  return { beta1: g.optimizer.beta1, beta2: g.optimizer.beta2, weightDecay: g.optimizer.weight_decay, maxGradNorm: g.optimizer.grad_clip };
}

async function prompts(ctx: GrpoContext): Promise<{ train: RlPrompt[]; val: RlPrompt[] }> {
  const text = await readFile(ctx.prompts.path, 'utf8');
  if (sha256Bytes(text) !== ctx.prompts.sha256) throw new Error(`${ctx.prompts.path} changed since the stage was prepared`);
  return JSON.parse(text);
}

async function fileRef(path: string, rows: number): Promise<FileRef> {
  return { path, sha256: sha256Bytes(await readFile(path)), rows };
}

/**
 * Rolls out group `group` of step `step` (training: generation batch `genBatch` of the seeded prompt order, by
 * default the step's own batch step - 1; validation: the validation rows). `draw` (1-based) names the extra
 * generation batches of a dynamic-sampling step; 0 (default) is the step's only batch.
 */
export async function grpoRollout(args: { ctx: GrpoContext; step: number; group: number; validation: boolean; ckpt: CheckpointRef; genBatch?: number; draw?: number; baseline?: boolean }): Promise<FileRef> {
  const { ctx, step, group, validation } = args;
  const draw = args.draw ?? 0;
  const path = join(ctx.workDir, 'rollouts', scoredRecordName(step, validation, draw, args.baseline).replace(/\.arrow$/u, ''), `group-${String(group).padStart(4, '0')}.arrow`);
  if (existsSync(path)) {
    // Written by an earlier attempt: kept, never resampled.
    const kept = await readTrajectoryFile(path).catch(() => null);
    if (kept) return fileRef(path, kept.length);
  }
  const g = ctx.run.grpo;
  const all = await prompts(ctx);
  const row = validation ? all.val[group] : stepPrompts(all.train, ctx.run.seed, g.batch_size, (args.genBatch ?? step - 1) + 1).rows[group];
  if (!row) throw badInput(`grpoRollout: no ${validation ? 'validation' : 'training'} prompt ${group} at step ${step}`);
  const sampling = validation ? { temperature: g.validation.temperature, topP: g.validation.top_p } : { temperature: g.rollout.temperature, topP: g.rollout.top_p, ...(g.rollout.top_k ? { topK: g.rollout.top_k } : {}) };
  const records = await heartbeating(() =>
    withPolicy(args.ckpt, (policy) =>
      runGroup(
        { run: ctx.runId, step, promptUid: row.uid, dataSource: row.dataSource, ability: row.ability, validation, seed: ctx.run.seed, messages: row.messages },
        validation ? g.validation.n : g.n,
        {
          tok: tokenizerFor(ctx.modelDir),
          policy,
          tools: toolRunnerFor(g.tool),
          settings: { maxTurns: g.max_turns, maxPromptLength: g.max_prompt_length, maxResponseLength: g.max_response_length, maxCallsPerTurn: g.max_calls_per_turn, ...sampling },
        },
      ),
    ),
  );
  await mkdir(join(path, '..'), { recursive: true });
  const written = await writeTrajectoryFile(path, records);
  return { path, sha256: written.sha256, rows: records.length };
}

/** Scores a step's rollouts (and, for training, computes the group advantages); writes the scored record. */
export async function grpoScore(args: { ctx: GrpoContext; step: number; validation: boolean; rollouts: FileRef[]; draw?: number; baseline?: boolean }): Promise<{ scored: FileRef; metrics: MetricRow }> {
  const { ctx, step, validation } = args;
  const path = scoredPath(ctx, step, validation, args.draw ?? 0, args.baseline);
  const g = ctx.run.grpo;
  const summarise = (records: TrajectoryRecord[], frac: number): MetricRow =>
    validation ? validationMetrics(records) : { ...rolloutMetrics(records, g.max_response_length), frac_reward_zero_std: frac };
  let records: TrajectoryRecord[] = [];
  for (const ref of args.rollouts) {
    const bytes = await readFile(ref.path);
    if (sha256Bytes(bytes) !== ref.sha256) throw new Error(`${ref.path} changed since it was written`);
    records.push(...(await readTrajectoryFile(ref.path)));
  }
  const all = await prompts(ctx);
  const rows = new Map([...all.train, ...all.val].map((r) => [r.uid, r]));
  const t0 = performance.now();
  const scored = await heartbeating(() => scoreRecords(records, rows, tokenizerFor(ctx.modelDir), { settings: rewardSettingsOf(g), sandbox: sandboxFor(g.tool) }, g.tool.concurrency));
  const rewardS = (performance.now() - t0) / 1000;
  const adv = validation ? { records: scored, fracRewardZeroStd: 0 } : withAdvantages(scored);
  records = adv.records;
  await mkdir(join(path, '..'), { recursive: true });
  const written = await writeTrajectoryFile(path, records);
  // Tool time summed over the step's calls (they overlap with generation and each other).
  const toolsS = records.reduce((n, r) => n + r.turns.reduce((m, t) => m + (t.toolTimeMs ?? 0), 0), 0) / 1000;
  if (args.baseline) return { scored: { path, sha256: written.sha256, rows: records.length }, metrics: baselineMetrics(summarise(records, 0)) };
  return { scored: { path, sha256: written.sha256, rows: records.length }, metrics: { ...summarise(records, adv.fracRewardZeroStd), 'timing_s/reward': rewardS, 'timing_s/tools': toolsS } };
}

/** The baseline model's validation metrics under val-baseline/<source>/... (verl's val-core/ and val-aux/ names otherwise). */
function baselineMetrics(row: MetricRow): MetricRow {
  return Object.fromEntries(Object.entries(row).filter(([k]) => /^val-(core|aux)\//u.test(k)).map(([k, v]) => [k.replace(/^val-(core|aux)\//u, VAL_BASELINE_PREFIX), v]));
}

/**
 * Old log-probs, one PPO epoch in mini-batches, and the step's checkpoint (content-addressed). `final`: the run's
 * last step (with dynamic sampling the prompts can run out before totalSteps), exported like a save step.
 */
export async function grpoUpdateStep(args: { ctx: GrpoContext; step: number; scored: FileRef; ckpt: CheckpointRef; final?: boolean }): Promise<{ ckpt: CheckpointRef; metrics: MetricRow }> {
  const { ctx, step } = args;
  const g = ctx.run.grpo;
  const records = await readTrajectoryFile(args.scored.path);
  const prev = await loadTrainCheckpoint(args.ckpt);
  const learner = await Learner.create(prev.config, prev.weights, { optimizer: optimizerOf(g) });
  try {
    await learner.loadState(prev.state);
    const t0 = performance.now();
    const metrics = await heartbeating(() =>
      grpoUpdate(learner, records, { miniBatchGroups: g.mini_batch_size, epsLow: g.clip.low, epsHigh: g.clip.high, dualClipC: g.clip.dual_c, lr: g.lr, microTokens: 16_384 }),
    );
    const updateS = (performance.now() - t0) / 1000;
    const spe = ctx.stepsPerEpoch;
    const ckpt = await saveTrainCheckpoint(join(ctx.workDir, 'ckpt'), {
      config: prev.config, rawConfig: prev.rawConfig, weights: await learner.weights(), state: await learner.state(), step,
      position: { epoch: Math.floor(step / spe), batch: step % spe }, extra: {},
    });
    if (step % g.save_every_steps === 0 || step === ctx.totalSteps || args.final) {
      // Every save_every_steps (and at the end): a Hugging Face directory users load directly, beside the state.
      await exportHfModel({ outDir: join(ctx.outDir, 'checkpoints', `step-${pad(step)}`), config: prev.config, rawConfig: prev.rawConfig, weights: await learner.weights(), dtype: 'f32', tokenizerDir: ctx.modelDir });
    }
    const tokens = records.reduce((n, r) => n + r.promptIds.length + r.responseIds.length, 0);
    return { ckpt, metrics: { ...metrics, 'timing_s/update': updateS, 'perf/total_num_tokens': tokens, 'perf/throughput': tokens / Math.max(updateS, 1e-9) } };
  } finally {
    await learner.close();
  }
}

/** Appends the step's metrics row (replacing any earlier row of the same step) and rewrites the table. */
export async function grpoRecordMetrics(args: { ctx: GrpoContext; step: number; row: MetricRow }): Promise<FileRef> {
  const log = join(args.ctx.outDir, 'metrics.jsonl');
  const text = await readFile(log, 'utf8').catch(() => '');
  const rows = new Map<number, MetricRow>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as MetricRow;
      if (r.step < args.step) rows.set(r.step, r);
    } catch {
      // a line torn by a crash: its step is written again
    }
  }
  rows.set(args.step, { ...args.row, step: args.step });
  const sorted = [...rows.values()].sort((a, b) => a.step - b.step);
  await writeNamedArtifact(log, sorted.map((r) => canonicalJson(r) + '\n').join(''), 'other', sorted.length);
  const written = await writeNamedArtifact(join(args.ctx.outDir, 'metrics.parquet'), metricsTableBytes(sorted), 'parquet', sorted.length);
  return { path: written.path, sha256: written.sha256, rows: sorted.length };
}

/**
 * Writes <outDir>/audit.json with the fields every stage's audit carries (schemas/stage.ts StageAudit: recipe
 * name and hash, the effective recipe with defaults filled, start and finish times from the workflow's clock,
 * inputs and outputs with sha256 and rows, step timings) and the stage's own counts.
 */
export async function grpoWriteAudit(args: {
  ctx: GrpoContext;
  workflowId: string;
  startedAt: string;
  finishedAt: string;
  timings: StepTiming[];
  steps: number;
  checkpoint: CheckpointRef;
  metrics: FileRef | null;
}): Promise<FileRef> {
  const { ctx } = args;
  // The Hugging Face directory of the last RL step (written by the update or grpoExportFinal): the stage's model.
  const modelDir = join(ctx.outDir, 'checkpoints', `step-${pad(args.steps)}`);
  const modelFiles = args.steps > 0 && existsSync(modelDir) ? (await readdir(modelDir)).sort() : [];
  const model = Object.fromEntries(await Promise.all(modelFiles.map(async (f) => [`model/${f}`, await inputRecord(join(modelDir, f))] as const)));
  const written = await writeStageAudit<GrpoCounts, OutputRecord>({
    outDir: ctx.outDir,
    stage: 'grpo',
    runId: ctx.runId,
    workflowId: args.workflowId,
    recipeName: ctx.run.name,
    recipeHash: recipeHash(ctx.run),
    seed: ctx.run.seed,
    codeVersion: codeVersion(),
    startedAt: args.startedAt,
    finishedAt: args.finishedAt,
    inputs: ctx.inputs,
    counts: { train: ctx.trainCount, validation: ctx.valCount, rejected: ctx.rejected, stepsPerEpoch: ctx.stepsPerEpoch, steps: args.steps },
    outputs: {
      checkpoint: args.checkpoint,
      ...(args.metrics ? { metrics: args.metrics } : {}),
      rejects: ctx.rejects,
      prompts: { ...ctx.prompts, rows: ctx.trainCount + ctx.valCount },
      ...model,
    },
    timings: args.timings,
    model: { base: ctx.modelDir, dir: modelFiles.length ? modelDir : null, checkpoint: args.checkpoint },
    recipe: ctx.run,
  });
  return { path: written.path, sha256: written.sha256, rows: 0 };
}
