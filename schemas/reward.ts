// Reward settings of the GRPO-TCR recipe (recipe.md section 3). Every constant of the trajectory reward is a
// setting so a recipe can embed, audit and change it; the defaults are the model card's values.
import { z } from 'zod';

export const TcrSettingsSchema = z
  .object({
    /** Tool Call Reward on/off: when off, a wrong answer keeps its raw outcome. */
    enabled: z.boolean().default(true),
    /** Added per tool round actually executed in the trajectory. */
    perRound: z.number().finite().nonnegative().default(0.1),
    /** Upper bound of a negative outcome after TCR: outcome' = min(cap, outcome + perRound * k). */
    cap: z.number().finite().default(-0.6),
  })
  .strict();

export const OverlongSettingsSchema = z
  .object({
    /** DAPO soft overlong punishment on/off. */
    enabled: z.boolean().default(true),
    /** B: the ramp length in tokens before the maximum response length. */
    bufferTokens: z.number().int().positive().default(3000),
    /** f: the penalty reached at the maximum response length (as a magnitude). */
    factor: z.number().finite().nonnegative().default(1.0),
    /** L_max: model tokens AND tool-output tokens together; keep it equal to the rollout's response budget. */
    maxResponseTokens: z.number().int().positive().default(10480),
  })
  .strict()
  .refine((o) => o.bufferTokens <= o.maxResponseTokens, {
    message: 'overlong.bufferTokens must not exceed overlong.maxResponseTokens',
    path: ['bufferTokens'],
  });

export const MathRewardSettingsSchema = z
  .object({
    /** 'strict': Open-AgentRL's exact string match of the last \boxed{} in the last 100 characters.
     *  'verify': the equivalence checker (math-verify style). Default strict = what the card trained with. */
    mode: z.enum(['strict', 'verify']).default('strict'),
    /** Hard bound of one equivalence check in verify mode. */
    timeoutMs: z.number().int().positive().default(5000),
  })
  .strict();

export const RewardSettingsSchema = z
  .object({
    tcr: TcrSettingsSchema.default({}),
    overlong: OverlongSettingsSchema.default({}),
    math: MathRewardSettingsSchema.default({}),
  })
  .strict();

export type TcrSettings = z.infer<typeof TcrSettingsSchema>;
export type OverlongSettings = z.infer<typeof OverlongSettingsSchema>;
export type MathRewardSettings = z.infer<typeof MathRewardSettingsSchema>;
export type RewardSettings = z.infer<typeof RewardSettingsSchema>;
/** What a recipe file may write: every field optional, defaults filled by parseRewardSettings. */
export type RewardSettingsInput = z.input<typeof RewardSettingsSchema>;

/** Parse (and fill defaults of) reward settings; errors name the offending field. */
export function parseRewardSettings(input: unknown = {}, source = 'reward settings'): RewardSettings {
  const parsed = RewardSettingsSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: invalid reward settings: ${issues}`);
  }
  return parsed.data;
}

export const DEFAULT_REWARD_SETTINGS: RewardSettings = parseRewardSettings({});
