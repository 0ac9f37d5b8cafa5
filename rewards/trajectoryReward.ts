// The GRPO-TCR trajectory reward (docs/rewards.md, "Reward formula"):
//   R = outcome (+ TCR when outcome < 0) + overlong
// It takes the outcome as a number so it serves both domains: math (+1/-1) and code (codeOutcome's score in [-1, 1] when its status is 'scored'; a sandbox_error is retried, never rewarded).
import type { RewardSettings } from '../schemas/reward.ts';
import { DEFAULT_REWARD_SETTINGS } from '../schemas/reward.ts';

export interface TrajectoryRewardInput {
  /** Outcome score in [-1, 1]: math +1/-1, code fraction of tests passed or -1. */
  outcome: number;
  /** Tool rounds ACTUALLY EXECUTED in the trajectory. Required on purpose: the released Open-AgentRL code never
   *  passed it, which made TCR a constant -1.1 for every wrong answer (Open-AgentRL issue #13). */
  toolRounds: number;
  /** L: every response token, model tokens AND tool-output tokens. */
  responseTokens: number;
}

export interface TrajectoryReward {
  outcome: number;
  /** What TCR added (0 when the outcome is >= 0 or TCR is off). */
  tcr: number;
  /** The overlong penalty (<= 0), added to correct answers too. */
  overlong: number;
  total: number;
  toolRounds: number;
  responseTokens: number;
}

// Rounding to 12 decimals keeps audit records readable (-0.7, not -0.7000000000000001); it is far below any
// difference GRPO's group normalisation could care about, and it is deterministic.
function tidy(x: number): number {
  const r = Math.round(x * 1e12) / 1e12;
  return r === 0 ? 0 : r; // no -0 in audit records
}

function requireNumber(name: string, value: unknown, check: (v: number) => boolean, rule: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw new Error(`trajectoryReward: ${name} must be ${rule}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** outcome' = min(cap, outcome + perRound * k) when outcome < 0; returns what was added. */
export function toolCallReward(outcome: number, toolRounds: number, tcr: RewardSettings['tcr']): number {
  if (!tcr.enabled || outcome >= 0) return 0;
  // Exactly the recipe's formula. Negative outcomes are -1 in both domains, so with the card's cap (-0.6) this
  // only ever raises the reward; an unusual outcome above the cap (say -0.5) would be pulled down to it.
  return Math.min(tcr.cap, outcome + tcr.perRound * toolRounds) - outcome;
}

/** DAPO soft punishment: min(0, -(L - (Lmax - B)) / B * f). */
export function overlongPenalty(responseTokens: number, overlong: RewardSettings['overlong']): number {
  if (!overlong.enabled) return 0;
  const start = overlong.maxResponseTokens - overlong.bufferTokens;
  return Math.min(0, (-(responseTokens - start) / overlong.bufferTokens) * overlong.factor);
}

export function trajectoryReward(
  input: TrajectoryRewardInput,
  settings: RewardSettings = DEFAULT_REWARD_SETTINGS,
): TrajectoryReward {
  const outcome = requireNumber('outcome', input.outcome, (v) => v >= -1 && v <= 1, 'a number in [-1, 1]');
  const toolRounds = requireNumber('toolRounds', input.toolRounds, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const responseTokens = requireNumber('responseTokens', input.responseTokens, (v) => Number.isInteger(v) && v >= 0, 'a non-negative integer');
  const tcr = toolCallReward(outcome, toolRounds, settings.tcr);
  const overlong = overlongPenalty(responseTokens, settings.overlong);
  return {
    outcome: tidy(outcome),
    tcr: tidy(tcr),
    overlong: tidy(overlong),
    total: tidy(outcome + tcr + overlong),
    toolRounds,
    responseTokens,
  };
}
