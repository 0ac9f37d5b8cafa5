// The recipe's top-level fields that every stage reads (where a run writes, its seed, how its durable steps
// behave). One home, so the whole recipe (schemas/recipe.ts) and a stage started on its own from the Web UI with
// the same JSON (schemas/grpo.ts grpoRunSchema) validate them alike.
import { z } from 'zod';

export const runFields = {
  name: z.string().min(1).default('agentrl'),
  /** Directory that relative paths resolve against; the CLI sets it to the recipe file's directory. */
  base_dir: z.string().min(1).optional(),
  /** The run's id; defaults to the workflow id, so the same run can be started from the Web UI. */
  run_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, ".", "_" and "-"').optional(),
  seed: z.number().int().nonnegative().max(2 ** 31 - 1),
  /** Outputs go to <output_dir>/<run-id>/<stage>/. */
  output_dir: z.string().min(1).default('runs'),
};

/** How the durable steps behave; defaults suit long real runs, tests shorten them. */
export const runtimeSchema = z
  .object({
    /** A step whose worker stops heartbeating this long is retried on another worker (resuming from its last heartbeat). */
    heartbeat_timeout_s: z.number().positive().default(60),
    /** Attempts per step before the run fails (bad input is never retried). */
    max_attempts: z.number().int().positive().default(5),
    /**
     * For tests: the GRPO step loop also continues-as-new after every this many RL steps (Temporal's own
     * suggestion needs thousands of history events, more than a test run makes). Runs never need it: the
     * suggestion alone is honoured.
     */
    continue_as_new_every_steps: z.number().int().positive().optional(),
  })
  .strict();
export type RuntimeConfig = z.infer<typeof runtimeSchema>;
