// The recipe's `grpo` section (stage 3, GRPO-TCR). Defaults are the model card's values (recipe.md section 2);
// settings that contradict each other are refused with every field named, before anything runs. Keys are
// snake_case, as the rest of the recipe.
import { z } from 'zod';
import { parseRewardSettings } from './reward.ts';
import { runFields, runtimeSchema } from './run-fields.ts';
import type { RewardSettings } from './reward.ts';
import type { InputFileRecord } from './artifact.ts';

const positiveInt = () => z.number().int().positive();

const dataSchema = z.union([
  z.object({ from: z.literal('balance') }).strict(),
  z.object({ files: z.array(z.string().min(1)).min(1) }).strict(),
]);

const valSchema = z.union([
  z.object({ fraction: z.number().gt(0).lt(1) }).strict(),
  z.object({ files: z.array(z.string().min(1)).min(1) }).strict(),
]);

const samplingSchema = z
  .object({
    temperature: z.number().nonnegative().default(1.0),
    top_p: z.number().gt(0).lte(1).default(1.0),
    top_k: z.number().int().nonnegative().default(0),
  })
  .strict();

export const grpoSectionSchema = z
  .object({
    data: dataSchema.default({ from: 'balance' }),
    val: valSchema.default({ fraction: 0.05 }),
    epochs: positiveInt().default(3),
    /** Stop after this many RL steps (verl's trainer.total_training_steps); default: every step of every epoch. */
    total_steps: positiveInt().optional(),
    /** Prompts per RL step. */
    batch_size: positiveInt().default(4),
    /** Responses per prompt. */
    n: positiveInt().default(8),
    /** Prompts per optimizer step (one PPO epoch over the step's batch). */
    mini_batch_size: positiveInt().default(1),
    max_prompt_length: positiveInt().default(2560),
    /** Model AND tool tokens after the prompt. */
    max_response_length: positiveInt().default(10480),
    /** Generations per trajectory; a call in the last one is never executed. */
    max_turns: positiveInt().default(16),
    /** Valid tool calls executed per turn. */
    max_calls_per_turn: positiveInt().default(1),
    lr: z.number().positive().default(1.0e-6),
    clip: z
      .object({
        low: z.number().gt(0).lt(1).default(0.2),
        high: z.number().gt(0).default(0.28),
        /** Dual clip c for negative advantages (verl 3.0; DemyAgent 10.0; the card is silent). */
        dual_c: z.number().gt(1).default(3.0),
      })
      .strict()
      .default({}),
    optimizer: z
      .object({
        beta1: z.number().gt(0).lt(1).default(0.9),
        beta2: z.number().gt(0).lt(1).default(0.999),
        weight_decay: z.number().nonnegative().default(0.01),
        grad_clip: z.number().positive().default(1.0),
      })
      .strict()
      .default({}),
    rollout: samplingSchema.default({}),
    validation: z
      .object({
        every_steps: z.number().int().nonnegative().default(10),
        before_training: z.boolean().default(true),
        n: positiveInt().default(32),
        temperature: z.number().nonnegative().default(1.0),
        top_p: z.number().gt(0).lte(1).default(0.6),
        /**
         * In the pipeline, when the recipe runs SFT: also validate the model SFT started from, before training,
         * so the report compares before SFT, after SFT and after GRPO on the same prompts.
         */
        before_sft: z.boolean().default(true),
        /**
         * A model validated once before training beside the starting policy, its metrics under val-baseline/
         * (the pipeline sets it to the model SFT started from). It must share the policy's tokenizer.
         */
        baseline_model: z.object({ path: z.string().min(1), init_seed: z.number().int().nonnegative().optional() }).passthrough().optional(),
      })
      .strict()
      .default({}),
    reward: z
      .object({
        math: z.enum(['strict', 'verify']).default('strict'),
        tcr: z
          .object({ enabled: z.boolean().default(true), per_round: z.number().nonnegative().default(0.1), cap: z.number().default(-0.6) })
          .strict()
          .default({}),
        overlong: z
          .object({ enabled: z.boolean().default(true), buffer: positiveInt().default(3000), factor: z.number().nonnegative().default(1.0) })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    /**
     * DAPO dynamic sampling (off in the card): a step keeps only groups whose rewards are not all equal and draws
     * the next batch_size prompts of the seeded order until batch_size groups are kept or max_num_gen_batches
     * generation batches were drawn (verl's name).
     */
    dynamic_sampling: z
      .object({ enabled: z.boolean().default(false), max_num_gen_batches: positiveInt().default(10) })
      .strict()
      .default({}),
    tool: z
      .object({
        backend: z.enum(['local', 'sandbox_fusion']).default('local'),
        url: z.string().url().optional(),
        timeout_s: z.number().positive().default(30),
        memory_mb: positiveInt().default(2048),
        output_chars: z.number().int().nonnegative().default(256),
        truncate: z.enum(['middle', 'head', 'tail']).default('middle'),
        /** Tool calls in flight at once per rollout worker. */
        concurrency: positiveInt().default(8),
      })
      .strict()
      .default({}),
    save_every_steps: positiveInt().default(30),
    /** Task queues of the rollout/scoring activities and of the learner's; default: the workflow's own queue. */
    task_queues: z.object({ rollout: z.string().min(1).optional(), learner: z.string().min(1).optional() }).strict().default({}),
  })
  .strict()
  .superRefine((g, ctx) => {
    const clash = (paths: (string | number)[][], message: string) => {
      for (const path of paths) ctx.addIssue({ code: 'custom', path, message });
    };
    if (g.reward.overlong.buffer > g.max_response_length) {
      clash([['reward', 'overlong', 'buffer'], ['max_response_length']], `reward.overlong.buffer (${g.reward.overlong.buffer}) is larger than max_response_length (${g.max_response_length})`);
    }
    if (g.mini_batch_size > g.batch_size || g.batch_size % g.mini_batch_size !== 0) {
      clash([['mini_batch_size'], ['batch_size']], `batch_size (${g.batch_size}) must be a multiple of mini_batch_size (${g.mini_batch_size})`);
    }
    if (g.clip.high < g.clip.low) {
      clash([['clip', 'high'], ['clip', 'low']], `clip.high (${g.clip.high}) is below clip.low (${g.clip.low}); clip-higher needs high >= low`);
    }
    if (g.tool.backend === 'sandbox_fusion' && !g.tool.url) clash([['tool', 'url'], ['tool', 'backend']], 'tool.backend sandbox_fusion needs tool.url');
    if (g.tool.backend === 'local' && g.tool.url) clash([['tool', 'url'], ['tool', 'backend']], 'tool.url is set but tool.backend is local (set backend: sandbox_fusion, or drop url)');
    if (g.reward.tcr.enabled && g.reward.tcr.cap >= 0) {
      clash([['reward', 'tcr', 'cap']], `reward.tcr.cap (${g.reward.tcr.cap}) must be negative: TCR only raises wrong answers`);
    }
    if (g.validation.baseline_model && !g.validation.before_training) {
      clash([['validation', 'baseline_model'], ['validation', 'before_training']], 'validation.baseline_model is validated before training, but validation.before_training is false');
    }
    if (g.n < 2 && g.dynamic_sampling.enabled) {
      clash([['dynamic_sampling', 'enabled'], ['n']], 'dynamic_sampling needs n >= 2 responses per prompt (it keeps groups whose rewards differ)');
    }
  });

export type GrpoSection = z.infer<typeof grpoSectionSchema>;
export type GrpoSectionInput = z.input<typeof grpoSectionSchema>;

/** The reward layer's settings for this section (the overlong L_max is the rollout's response budget). */
export function rewardSettingsOf(g: GrpoSection): RewardSettings {
  return parseRewardSettings(
    {
      tcr: { enabled: g.reward.tcr.enabled, perRound: g.reward.tcr.per_round, cap: g.reward.tcr.cap },
      overlong: { enabled: g.reward.overlong.enabled, bufferTokens: g.reward.overlong.buffer, factor: g.reward.overlong.factor, maxResponseTokens: g.max_response_length },
      math: { mode: g.reward.math },
    },
    'recipe grpo.reward',
  );
}

/** Optimizer steps per RL step (one PPO epoch over the batch in mini-batches). */
export function optimizerStepsPerRlStep(g: GrpoSection): number {
  return g.batch_size / g.mini_batch_size;
}

/**
 * What grpoWorkflow is started with: the recipe's fields the stage reads (other sections pass through, so the
 * whole recipe can be given). `model.path` is the starting policy when no SFT output is handed over.
 */
export const grpoRunSchema = z
  .object({
    ...runFields,
    runtime: runtimeSchema.default({}),
    model: z.object({ path: z.string().min(1), init_seed: z.number().int().nonnegative().optional() }).passthrough(),
    grpo: grpoSectionSchema,
  })
  .passthrough();
export type GrpoRun = z.infer<typeof grpoRunSchema>;

/** One RL row as the stage uses it (verl RL parquet: data_source, prompt, ability, reward_model, extra_info). */
export interface RlPrompt {
  uid: string;
  dataSource: string;
  ability: string;
  groundTruth: string;
  messages: { role: 'system' | 'user' | 'assistant'; content: string }[];
}

/** Everything the step activities share, fixed by grpoPrepare. Paths are absolute. */
export interface GrpoContext {
  runId: string;
  outDir: string;
  workDir: string;
  baseDir: string;
  modelDir: string;
  run: GrpoRun;
  /** JSON artifact with { train: RlPrompt[], val: RlPrompt[] }. */
  prompts: { path: string; sha256: string };
  /** <outDir>/rejects.json: the RL rows rejected before any rollout. */
  rejects: { path: string; sha256: string; rows: number };
  /** What the audit lists as read, digested when the stage was prepared: the RL files (rows), the model's files. */
  inputs: Record<string, InputFileRecord[]>;
  trainCount: number;
  valCount: number;
  rejected: number;
  stepsPerEpoch: number;
  totalSteps: number;
}
