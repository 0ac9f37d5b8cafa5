// The math outcome of one response: +1 correct, -1 wrong, in either of two modes.
//   strict: Open-AgentRL's rule (last \boxed{} in the last 100 characters, exact string equality).
//   verify: the math-verify style equivalence checker, with a hard time-out (a time-out scores -1).
import { strictBoxedMatch } from './math/strict.ts';
import { verifyMath } from './math/checker.ts';
import type { MathChecker } from './math/checker.ts';
import type { MathVerdict } from './math/verifySync.ts';

export type MathMode = 'strict' | 'verify';

export interface MathOutcomeOptions {
  mode: MathMode;
  /** verify mode: hard bound of the check (default 5000 ms). */
  timeoutMs?: number;
  /** verify mode: the checker to use (default: the process-wide one). */
  checker?: MathChecker;
}

export interface MathOutcome {
  score: 1 | -1;
  mode: MathMode;
  /** The answer taken from the response (null: none found). */
  extracted: string | null;
  timedOut: boolean;
  /** Audit detail: why this score. */
  reason: string;
  /** verify mode: the full verdict. */
  verdict?: MathVerdict;
}

export async function mathOutcome(response: string, groundTruth: string, options: MathOutcomeOptions): Promise<MathOutcome> {
  if (typeof response !== 'string' || typeof groundTruth !== 'string') {
    throw new Error(`mathOutcome: response and groundTruth must be strings (got ${typeof response}, ${typeof groundTruth})`);
  }
  if (options.mode === 'strict') {
    const m = strictBoxedMatch(response, groundTruth);
    const reason = m.extracted === null ? 'no \\boxed{} in the last 100 characters' : m.score === 1 ? 'exact match' : 'boxed answer differs from ground truth';
    return { score: m.score, mode: 'strict', extracted: m.extracted, timedOut: false, reason };
  }
  if (options.mode !== 'verify') throw new Error(`mathOutcome: unknown mode ${JSON.stringify(options.mode)} (expected 'strict' or 'verify')`);
  const verdict = await verifyMath(groundTruth, response, { timeoutMs: options.timeoutMs, checker: options.checker });
  return {
    score: verdict.equal ? 1 : -1,
    mode: 'verify',
    extracted: verdict.predAnswer,
    timedOut: verdict.timedOut,
    reason: verdict.reason,
    verdict,
  };
}
