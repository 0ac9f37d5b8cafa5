// The SFT stage's activities: thin Temporal glue over training/ (heartbeats that carry the last checkpoint,
// resuming from them, bad input mapped to non-retryable failures). The training activities share the worker's
// ModelCache, so they are created with it (createSftActivities, called in infra/worker.ts).
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import { Rng } from '../engine/rng.ts';
import { qwen3ParamShapes } from '../engine/config.ts';
import type { Weights } from '../engine/tensors.ts';
import type { ArtifactRef, InputFileRecord } from '../schemas/artifact.ts';
import type { ModelConfig, SftConfig } from '../schemas/recipe.ts';
import type { CheckpointRef, SftCounts, StageAudit, StepMetrics } from '../schemas/stage.ts';
import {
  checkTrainingMemory, exportDtype, exportHfModel, loadBaseModel, loadTrainCheckpoint, MetricsLog, modelDigest, readTokenRows, rejectsParquet,
  rowDigest, saveTrainCheckpoint, trainEpoch, writeMetricsParquet,
} from '../training/index.ts';
import type { BaseDtype, SftHyper } from '../training/index.ts';
import { tempPathFor } from '../core/atomic-write.ts';
import { commitContentAddressed, verifyArtifact, writeNamedArtifact } from '../datasets/artifacts.ts';
import { resolveSourceFiles } from '../datasets/balance/index.ts';
import { tokenizeInThread } from './sft-thread.ts';
import { failFastOnBadInput } from './step-runner.ts';
import { inputRecord, modelInputFiles } from './stage.ts';
import type { ModelCache } from './training-cache.ts';
import { resolve, isAbsolute } from 'node:path';

/** How often a step heartbeats while it computes: well inside the heartbeat timeout it runs under. */
function beatEveryMs(ctx: Context): number {
  return Math.max(100, Math.min(5_000, (ctx.info.heartbeatTimeoutMs ?? 15_000) / 4));
}

export interface TokenizeSftResult {
  tokens: ArtifactRef;
  rejects: ArtifactRef;
  inputs: InputFileRecord[];
  counts: Omit<SftCounts, 'stepsPerEpoch' | 'epochs' | 'steps'>;
}

export interface PreparedModel {
  checkpoint: CheckpointRef;
  modelDir: string;
  baseDigest: string;
  baseDtype: BaseDtype;
  inputs: InputFileRecord[];
  memory: { bytes: number; limit: number };
}

export interface EpochResult {
  checkpoint: CheckpointRef;
  metrics: ArtifactRef;
  last?: StepMetrics;
  /** Whether this attempt loaded the model from the checkpoint (false: the worker held it). */
  loaded: boolean;
}

/** What a training activity heartbeats: the step, the last checkpoint (resume point), the last metrics. */
export interface TrainHeartbeat {
  step: number;
  checkpoint: CheckpointRef;
  last?: StepMetrics;
}

export function hyperOf(sft: SftConfig, seed: number): SftHyper {
  return {
    epochs: sft.epochs, batchSize: sft.batch_size, lr: sft.lr, schedule: sft.schedule, saveEverySteps: sft.save_every_steps,
    microBatchTokens: sft.micro_batch_tokens, seed,
  };
}

function optimizerOf(sft: SftConfig) {
  return { beta1: sft.betas[0], beta2: sft.betas[1], weightDecay: sft.weight_decay, maxGradNorm: sft.grad_clip };
}

function zeros(shapes: Map<string, number[]>): Weights {
  return new Map([...shapes].map(([n, s]) => [n, { shape: s, data: new Float32Array(s.reduce((x, y) => x * y, 1)) }]));
}

export function createSftActivities(deps: { models: ModelCache }) {
  return {
    /** Reads and tokenises the SFT files in a worker thread: a content-addressed token table and the rejects table. */
    async tokenizeSft(args: { files: string[]; baseDir: string; modelPath: string; maxLength: number; multiTurn: SftConfig['multi_turn']; workDir: string; outDir: string }): Promise<TokenizeSftResult> {
      const ctx = Context.current();
      return failFastOnBadInput(async () => {
        const files = await resolveSourceFiles(args.files, args.baseDir);
        const tmpPath = tempPathFor(join(args.workDir, 'sft-tokens.arrow'));
        const beat = setInterval(() => ctx.heartbeat(), beatEveryMs(ctx));
        try {
          const r = await tokenizeInThread(
            { files, tokenizerDir: resolve(args.baseDir, args.modelPath), maxLength: args.maxLength, multiTurn: args.multiTurn, tmpPath },
            (p) => ctx.heartbeat(p),
            ctx.cancellationSignal,
          );
          const tokens = await commitContentAddressed(tmpPath, args.workDir, 'sft-tokens', 'arrow', r.accepted);
          const rejects = await writeNamedArtifact(join(args.outDir, 'rejects.parquet'), rejectsParquet(r.rejects), 'parquet', r.rejects.length);
          const rejectedByReason: Record<string, number> = {};
          for (const x of r.rejects) rejectedByReason[x.kind] = (rejectedByReason[x.kind] ?? 0) + 1;
          return {
            tokens,
            rejects,
            inputs: await Promise.all(files.map((f) => inputRecord(f))),
            counts: {
              files: files.length, read: r.perFile.reduce((n, f) => n + f.read, 0), accepted: r.accepted, rejected: r.rejects.length, truncated: r.truncated,
              tokens: r.tokens, trainedTokens: r.trainedTokens, longestRow: r.longestRow, rejectedByReason,
            },
          };
        } finally {
          clearInterval(beat);
        }
      });
    },

    /** Loads the base model, checks the memory plan, and saves it as the step-0 checkpoint training starts from. */
    async prepareSftModel(args: { model: ModelConfig; baseDir: string; workDir: string; seed: number; longestRow: number; sft: SftConfig }): Promise<PreparedModel> {
      return failFastOnBadInput(async () => {
        const modelDir = isAbsolute(args.model.path) ? args.model.path : resolve(args.baseDir, args.model.path);
        const base = await loadBaseModel(modelDir, args.model.init_seed);
        const limit = args.sft.memory_limit_gb === undefined ? undefined : args.sft.memory_limit_gb * 2 ** 30;
        const memory = checkTrainingMemory(base.config, { longestRow: Math.min(args.longestRow, args.sft.max_length), microTokens: args.sft.micro_batch_tokens, batchSize: args.sft.batch_size, limit });
        const shapes = qwen3ParamShapes(base.config);
        const checkpoint = await saveTrainCheckpoint(join(args.workDir, 'checkpoints'), {
          config: base.config, rawConfig: base.rawConfig, weights: base.weights, step: 0, position: { epoch: 0, batch: 0 }, extra: {},
          state: { step: 0, optimizer: { m: zeros(shapes), v: zeros(shapes) }, rng: Rng.fromSeed(args.seed, 'learner').state() },
        });
        const files = modelInputFiles(modelDir, base.files);
        return { checkpoint, modelDir, baseDigest: modelDigest(base.config, base.weights), baseDtype: base.dtype, inputs: await Promise.all(files.map((f) => inputRecord(f))), memory };
      });
    },

    /**
     * Trains one epoch from `from` (or, on a retried attempt, from the last checkpoint in its heartbeat details),
     * checkpointing every save_every_steps and at the epoch's end. A checkpoint already past this epoch returns at once.
     */
    async trainSftEpoch(args: { tokens: ArtifactRef; from: CheckpointRef; epoch: number; sft: SftConfig; seed: number; workDir: string; outDir: string }): Promise<EpochResult> {
      const ctx = Context.current();
      const resume = ctx.info.heartbeatDetails as TrainHeartbeat | undefined;
      const start = resume?.checkpoint ?? args.from;
      if (resume?.checkpoint) ctx.log.info('resuming SFT epoch from the checkpoint in the last heartbeat', { epoch: args.epoch, step: start.step });
      return failFastOnBadInput(async () => {
        await verifyArtifact(args.tokens);
        const rows = await readTokenRows(args.tokens.path);
        const digests = rows.map(rowDigest);
        let details: TrainHeartbeat = { step: start.step, checkpoint: start, last: resume?.last };
        ctx.heartbeat(details); // at once: the resume point is known before the first step ends
        const beat = setInterval(() => ctx.heartbeat(details), beatEveryMs(ctx));
        try {
          return await deps.models.use(start, optimizerOf(args.sft), async (held) => {
            const metricsLog = await MetricsLog.open(join(args.workDir, 'metrics.jsonl'), start.step);
            let holds = start;
            await trainEpoch({
              learner: held.learner, rows, digests, hyper: hyperOf(args.sft, args.seed), epoch: args.epoch, from: start.position, signal: ctx.cancellationSignal,
              onStep: async (m) => {
                await metricsLog.append(m);
                details = { ...details, step: m.step, last: m };
                ctx.heartbeat(details);
              },
              checkpoint: async (position, step) => {
                holds = await saveTrainCheckpoint(join(args.workDir, 'checkpoints'), {
                  config: held.config, rawConfig: held.rawConfig, weights: await held.learner.weights(), state: await held.learner.state(), step, position, extra: {},
                });
                details = { ...details, checkpoint: holds };
                ctx.heartbeat(details);
              },
            });
            const written = await writeMetricsParquet(join(args.outDir, 'metrics.parquet'), metricsLog.all);
            const metrics: ArtifactRef = { path: join(args.outDir, 'metrics.parquet'), sha256: written.sha256, rows: written.rows, bytes: written.bytes, format: 'parquet' };
            return { result: { checkpoint: holds, metrics, last: metricsLog.last, loaded: held.loaded }, holds };
          });
        } finally {
          clearInterval(beat);
        }
      });
    },

    /** Writes the final checkpoint's weights as a Hugging Face directory <outDir>/model. */
    async exportSftModel(args: { checkpoint: CheckpointRef; modelDir: string; baseDtype: BaseDtype; outDir: string }): Promise<{ dir: string; files: ArtifactRef[]; modelDigest: string }> {
      return failFastOnBadInput(async () => {
        const ckpt = await loadTrainCheckpoint(args.checkpoint);
        const dir = join(args.outDir, 'model');
        const files = await exportHfModel({ outDir: dir, config: ckpt.config, rawConfig: ckpt.rawConfig, weights: ckpt.weights, dtype: exportDtype(args.baseDtype), tokenizerDir: args.modelDir });
        const refs = files.map((f): ArtifactRef => ({ path: join(dir, f.name), sha256: f.sha256, bytes: f.bytes, rows: 0, format: f.name.endsWith('.json') ? 'json' : 'safetensors' }));
        return { dir, files: refs, modelDigest: modelDigest(ckpt.config, ckpt.weights) };
      });
    },

    /** Writes <outDir>/audit.json. */
    async writeSftAudit(audit: StageAudit<SftCounts> & { outDir: string }): Promise<ArtifactRef> {
      const { outDir, ...record } = audit;
      return writeNamedArtifact(join(outDir, 'audit.json'), JSON.stringify(record, null, 2) + '\n', 'json', 0);
    },
  };
}

export type SftActivities = ReturnType<typeof createSftActivities>;
