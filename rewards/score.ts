// The reward of one GRPO-TCR trajectory (recipe.md section 3): the outcome by the row's domain (math or code),
// then TCR on the executed tool rounds and the overlong penalty through trajectoryReward. The decisions (which text
// is read, what a round is, the code outcome of a program without the entry point, infrastructure failures) are in
// docs/grpo.md, "Rewards", each with a test in test/grpo/score.test.ts.
import { canonicalJson } from '../core/canonical-json.ts';
import { parseCodeGroundTruth } from '../schemas/ground-truth.ts';
import type { CodeGroundTruth } from '../schemas/ground-truth.ts';
import type { RewardSettings } from '../schemas/reward.ts';
import type { CaseRunner } from '../sandbox/index.ts';
import { codeOutcome, lastBoxedInWindow, mathOutcome, STRICT_WINDOW_CHARS, trajectoryReward } from './index.ts';
import type { CodeOutcome, MathChecker } from './index.ts';

export type Domain = 'math' | 'code';

/** A row whose reward cannot be computed from its own data: never retried (the name is in NON_RETRYABLE_ERRORS). */
export class RewardInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** The sandbox kept failing while judging: retried by the caller, never scored. */
export class ScoringInfrastructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScoringInfrastructureError';
  }
}

export interface ScoreRow {
  /** For messages. */
  uid: string;
  dataSource: string;
  ability: string;
  groundTruth: string;
}

export interface ScoreInput extends ScoreRow {
  /** The whole decoded response (generated and tool turns), special tokens skipped, as verl decodes it. */
  responseText: string;
  /** Executed tool rounds (a parsed call that ran and whose output was appended). */
  toolRounds: number;
  /** Every response token, tool tokens included. */
  responseLength: number;
}

export interface ScoreOptions {
  settings: RewardSettings;
  /** Runs the code judge's test cases (needed for code rows). */
  sandbox?: CaseRunner;
  mathChecker?: MathChecker;
  /** Judge limits (recipe reward-time: 30 s per case, 1024 MiB). */
  codeTimeoutMs?: number;
  codeMemoryMb?: number;
  /** Judge only the first k tests of a problem. */
  firstK?: number;
  /** Judging attempts when the sandbox itself fails (default 3). */
  infraAttempts?: number;
}

export interface Score {
  outcome: number;
  /** Fully correct: math +1, code every test passed. */
  correct: boolean;
  /** JSON audit detail of the outcome. */
  detail: string;
  tcr: number;
  overlong: number;
  total: number;
}

/** The row's domain from its ability, else from a data_source ending in _math / _code. */
export function domainOf(row: Pick<ScoreRow, 'uid' | 'ability' | 'dataSource'>): Domain {
  const a = row.ability.toLowerCase();
  if (a === 'math' || a === 'code') return a;
  if (/(^|_)code$/.test(row.dataSource)) return 'code';
  if (/(^|_)math$/.test(row.dataSource)) return 'math';
  throw new RewardInputError(`row ${row.uid}: no reward for ability ${JSON.stringify(row.ability)} / data_source ${JSON.stringify(row.dataSource)} (expected math or code)`);
}

/**
 * Checks that a row can be scored before any rollout is spent on it: a code row's ground truth must parse as
 * test cases, a math row's must be a non-empty string. Throws RewardInputError naming the uid and the field.
 */
export function checkScorable(row: ScoreRow): { domain: Domain; code?: CodeGroundTruth } {
  const domain = domainOf(row);
  if (domain === 'code') {
    try {
      return { domain, code: parseCodeGroundTruth(row.groundTruth, `row ${row.uid}`) };
    } catch (err) {
      throw new RewardInputError(`row ${row.uid}: reward_model.ground_truth: ${(err as Error).message}`);
    }
  }
  if (typeof row.groundTruth !== 'string' || row.groundTruth.length === 0) {
    throw new RewardInputError(`row ${row.uid}: reward_model.ground_truth is empty; a math row needs an answer`);
  }
  return { domain };
}

/** The last STRICT_WINDOW_CHARS code points (Python slicing, as verl), never half a surrogate pair. */
export function strictWindow(text: string): string {
  const points = Array.from(text);
  return points.length <= STRICT_WINDOW_CHARS ? text : points.slice(-STRICT_WINDOW_CHARS).join('');
}

async function mathScore(input: ScoreInput, opts: ScoreOptions): Promise<{ outcome: number; correct: boolean; detail: Record<string, unknown> }> {
  const math = opts.settings.math;
  if (math.mode === 'strict') {
    // strictBoxedMatch windows by UTF-16 units; the recipe's window is code points, so window first, then look
    // for the box in the whole (already windowed) text.
    const window = strictWindow(input.responseText);
    const extracted = lastBoxedInWindow(window, window.length);
    const correct = extracted !== null && extracted === input.groundTruth;
    return { outcome: correct ? 1 : -1, correct, detail: { mode: 'strict', extracted, reason: extracted === null ? 'no \\boxed{} in the last 100 characters' : correct ? 'exact match' : 'boxed answer differs from ground truth' } };
  }
  const m = await mathOutcome(input.responseText, input.groundTruth, { mode: 'verify', timeoutMs: math.timeoutMs, checker: opts.mathChecker });
  return { outcome: m.score, correct: m.score === 1, detail: { mode: 'verify', extracted: m.extracted, reason: m.reason, timedOut: m.timedOut } };
}

async function codeScore(input: ScoreInput, gt: CodeGroundTruth, opts: ScoreOptions): Promise<{ outcome: number; correct: boolean; detail: Record<string, unknown> }> {
  if (!opts.sandbox) throw new Error(`row ${input.uid}: a code row needs a sandbox to be judged`);
  const attempts = opts.infraAttempts ?? 3;
  let last: CodeOutcome | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const o = await codeOutcome(input.responseText, gt, { sandbox: opts.sandbox, timeoutMs: opts.codeTimeoutMs, memoryMb: opts.codeMemoryMb, firstK: opts.firstK, rewardMode: 'fraction' });
    // A sandbox_error verdict says nothing about the program: it is retried and never turned into a -1.
    if (o.status === 'scored') {
      const j = o.judge;
      return {
        outcome: o.score,
        correct: o.reason === 'judged' && j !== undefined && j.allPass,
        detail: { reason: o.reason, passed: j?.passed ?? 0, total: j?.total ?? 0, ...(o.detail ? { detail: o.detail } : {}), ...(attempt > 1 ? { attempts: attempt } : {}) },
      };
    }
    last = o;
  }
  throw new ScoringInfrastructureError(`row ${input.uid}: the sandbox failed while judging (${attempts} attempts): ${last?.detail ?? 'unknown error'}`);
}

/** Outcome, TCR, overlong and total of one trajectory. */
export async function scoreTrajectory(input: ScoreInput, opts: ScoreOptions): Promise<Score> {
  const { domain, code } = checkScorable(input);
  const o = domain === 'math' ? await mathScore(input, opts) : await codeScore(input, code!, opts);
  const r = trajectoryReward({ outcome: o.outcome, toolRounds: input.toolRounds, responseTokens: input.responseLength }, opts.settings);
  return { outcome: r.outcome, correct: o.correct, detail: canonicalJson(o.detail), tcr: r.tcr, overlong: r.overlong, total: r.total };
}
