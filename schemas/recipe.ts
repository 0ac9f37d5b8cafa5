// The recipe: the one JSON object a run is started with (from the CLI or the Web UI's Start Workflow form).
// Validation happens before anything starts, and every error names the field path so a user can fix a YAML file
// without reading code. Keys are snake_case because recipes are written by hand in YAML.
import { z } from 'zod';
import { grpoSectionSchema } from './grpo.ts';
import { runFields, runtimeSchema } from './run-fields.ts';

export const STAGES = ['balance', 'sft', 'grpo'] as const;
export type Stage = (typeof STAGES)[number];

/** Published formats the balance stage can read (recipe.md section 6). */
export const SOURCE_FORMATS = [
  'deepscaler_json', // DeepScaleR: one JSON array (JSONL accepted too)
  'omni_math_jsonl', // Omni-MATH test.jsonl
  'numina_parquet', // NuminaMath-1.5 data/train-*.parquet shards
  'taco_arrow', // TACO save_to_disk shards: Arrow IPC stream files
  'taco_parquet', // TACO's parquet copy
  'leetcode_jsonl', // LeetCodeDataset jsonl
] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

export function domainOf(format: SourceFormat): 'math' | 'code' {
  return format.startsWith('taco') || format.startsWith('leetcode') ? 'code' : 'math';
}

const filtersSchema = z
  .object({
    /** NuminaMath: keep only rows whose problem_is_valid and solution_is_valid are "Yes". */
    require_valid: z.boolean().default(true),
    /** NuminaMath: question_type values to keep (proofs and MCQ have no rule-checkable answer). */
    question_types: z.array(z.string().min(1)).default(['math-word-problem']),
    /** NuminaMath: drop rows flagged synthetic. */
    exclude_synthetic: z.boolean().default(false),
    /** Math answers longer than this are not rule-checkable in practice. */
    max_answer_chars: z.number().int().positive().default(200),
    /** Problems longer than this cannot fit the prompt budget (characters, a cheap proxy for tokens). */
    max_problem_chars: z.number().int().positive().default(8000),
    /** Code: rows with fewer usable tests are rejected. */
    min_tests: z.number().int().nonnegative().default(1),
    /** Code: keep at most this many tests per problem (trimmed, not rejected); 0 keeps all. */
    max_tests: z.number().int().nonnegative().default(0),
    /** Code: rows whose serialized tests exceed this many bytes are rejected (they would stall the judge). */
    max_test_bytes: z.number().int().positive().default(16 * 1024 * 1024),
    /** Omni-MATH: inclusive difficulty range. */
    min_difficulty: z.number().optional(),
    max_difficulty: z.number().optional(),
  })
  .strict();
export type SourceFilters = z.infer<typeof filtersSchema>;

export const sourceSchema = z
  .object({
    /** The data_source value written to every output row, e.g. "deepscaler". */
    name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'lower-case letters, digits and _'),
    format: z.enum(SOURCE_FORMATS),
    /** Files or simple globs (`*` in the file name only); relative paths resolve against the recipe's directory. */
    files: z.array(z.string().min(1)).min(1),
    /** Rows to sample from this source; defaults to balance.per_source. */
    take: z.number().int().positive().optional(),
    filters: filtersSchema.default({}),
  })
  .strict();
export type SourceConfig = z.infer<typeof sourceSchema>;

const DEFAULT_MATH_TEMPLATE =
  '{problem}\n\nSolve the problem, using the code interpreter when a computation helps. ' +
  'Give the final answer as \\boxed{answer}.';
const DEFAULT_CODE_TEMPLATE =
  '{problem}\n\n{starter_code_block}Write a complete Python 3 solution. You may test ideas with the code interpreter. ' +
  'Put the final solution in one ```python code block at the end of your answer.';

export const balanceSchema = z
  .object({
    per_source: z.number().int().positive().default(400),
    /** What to do when a source has fewer eligible rows than asked: fail the stage, or take all and record it. */
    shortfall: z.enum(['error', 'take_all']).default('error'),
    /**
     * Cross-source dedupe keeps a problem in the first source of this list that has it (DeepScaleR contains
     * Omni-MATH problems, so the original collection is listed first). Sources not listed come after, by name.
     */
    dedupe_priority: z.array(z.string()).default(['omni_math', 'numina_math', 'deepscaler', 'leetcode_code', 'taco_code']),
    templates: z
      .object({
        math: z.string().includes('{problem}').default(DEFAULT_MATH_TEMPLATE),
        code: z.string().includes('{problem}').default(DEFAULT_CODE_TEMPLATE),
      })
      .strict()
      .default({}),
    /** verl's agent loop name written to each row. */
    agent_name: z.string().default('tool_agent'),
    sources: z.array(sourceSchema).min(1),
  })
  .strict()
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.sources.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: ['sources', i, 'name'], message: `duplicate source name "${s.name}"` });
      seen.add(s.name);
    });
  });
export type BalanceConfig = z.infer<typeof balanceSchema>;

/** The model a training stage starts from when no earlier stage hands it one. */
export const modelSchema = z
  .object({
    /** A Hugging Face model directory: config.json, *.safetensors (single or sharded; f32/bf16/f16), tokenizer files. */
    path: z.string().min(1),
    /** Only for a directory without weights: seeded fresh initialisation (as transformers initialises Qwen3). */
    init_seed: z.number().int().nonnegative().max(2 ** 31 - 1).optional(),
  })
  .strict();
export type ModelConfig = z.infer<typeof modelSchema>;

/** Stage 2, SFT cold start. Defaults are the card's (recipe.md section 1). */
export const sftSchema = z
  .object({
    /** parquet or jsonl files (or `*` globs in the file name) with columns `messages` and `tools` (verl's layout). */
    data: z.object({ files: z.array(z.string().min(1)).min(1).optional() }).strict().default({}),
    epochs: z.number().int().positive().default(10),
    /** Right truncation in tokens; each truncated row is recorded. */
    max_length: z.number().int().positive().default(32768),
    /** Conversations per optimizer step (micro-batches are packed by length within micro_batch_tokens). */
    batch_size: z.number().int().positive().default(32),
    lr: z.number().positive().default(1e-5),
    schedule: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('cosine'), warmup_ratio: z.number().min(0).max(1).default(0.1) }).strict(),
        z.object({ kind: z.literal('constant') }).strict(),
      ])
      .default({ kind: 'cosine', warmup_ratio: 0.1 }),
    betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.95]),
    weight_decay: z.number().nonnegative().default(0.01),
    /** Global gradient-norm clip; 0 turns it off. */
    grad_clip: z.number().nonnegative().default(1.0),
    /** A checkpoint every this many optimizer steps, and one at each epoch's end. */
    save_every_steps: z.number().int().positive().default(50),
    /**
     * How a conversation whose template rewrites earlier turns is trained (docs/chat-protocol.md): per_turn, one
     * sample per assistant turn rendered as the model sees it when generating that turn (chat's
     * DEFAULT_MULTI_TURN; literal here so workflow code never bundles the chat layer), or whole, one rendering.
     */
    multi_turn: z.enum(['whole', 'per_turn']).default('per_turn'),
    /**
     * Padded tokens per micro-batch (rows x longest row); a longer row runs alone. The vocabulary head dominates a
     * micro-batch's memory (~3 x tokens x vocab x 4 bytes: 7 GiB for 4,096 tokens at Qwen3's 151,936).
     */
    micro_batch_tokens: z.number().int().positive().default(4096),
    /** Memory the memory pre-check allows (GiB); default: the machine's memory. */
    memory_limit_gb: z.number().positive().optional(),
  })
  .strict();
export type SftConfig = z.infer<typeof sftSchema>;

export const recipeSchema = z
  .object({
    ...runFields,
    /** The last stage to run; default: the last stage whose section is present. */
    until: z.enum(STAGES).optional(),
    runtime: runtimeSchema.default({}),
    /** Stage sections: each optional; a run executes those present, in this order, up to `until`. */
    balance: balanceSchema.optional(),
    model: modelSchema.optional(),
    sft: sftSchema.optional(),
    grpo: grpoSectionSchema.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const until = r.until ?? [...STAGES].reverse().find((s) => r[s] !== undefined) ?? 'balance';
    const runs = stagesToRun({ ...r, until });
    if (runs.length === 0) {
      ctx.addIssue({ code: 'custom', path: [until], message: `no stage to run: add a "${until}" section (or one of the stages before it)` });
    }
    if (runs.includes('sft')) {
      // SFT data never comes from an earlier stage; the model would come from one only in a later version.
      if (!r.sft?.data.files) ctx.addIssue({ code: 'custom', path: ['sft', 'data', 'files'], message: 'required: the SFT files (parquet or jsonl) to train on' });
      if (!r.model) ctx.addIssue({ code: 'custom', path: ['model', 'path'], message: 'required: the model directory SFT starts from' });
    }
    if (runs.includes('grpo')) {
      // GRPO starts from the SFT output when SFT runs, else from model.path; its prompts come from the balance
      // stage when it runs, else from grpo.data.files.
      if (!runs.includes('sft') && !r.model) ctx.addIssue({ code: 'custom', path: ['model', 'path'], message: 'required: the model directory GRPO starts from (no sft stage runs before it)' });
      if (r.grpo && 'from' in r.grpo.data && !runs.includes('balance')) {
        ctx.addIssue({ code: 'custom', path: ['grpo', 'data'], message: 'grpo.data is {from: balance} but no balance stage runs: give grpo.data.files' });
      }
    }
  })
  .transform((r) => ({ ...r, until: r.until ?? [...STAGES].reverse().find((s) => r[s] !== undefined) ?? 'balance' }));
export type Recipe = z.output<typeof recipeSchema>;

/** The stages a recipe runs: those whose sections are present, in recipe order, up to `until`. */
export function stagesToRun(r: { until: Stage; balance?: unknown; sft?: unknown; grpo?: unknown }): Stage[] {
  const last = STAGES.indexOf(r.until);
  return STAGES.filter((s, i) => i <= last && (r as Record<string, unknown>)[s] !== undefined);
}

export class RecipeError extends Error {
  constructor(
    readonly issues: { path: string; message: string }[],
    source: string,
  ) {
    super(`invalid recipe ${source}:\n` + issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n'));
    this.name = 'RecipeError';
  }
}

/** Validates a parsed recipe object; throws RecipeError listing every bad field. */
export function parseRecipe(raw: unknown, source = '(input)'): Recipe {
  const result = recipeSchema.safeParse(raw);
  if (!result.success) {
    throw new RecipeError(
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      source,
    );
  }
  return result.data;
}
