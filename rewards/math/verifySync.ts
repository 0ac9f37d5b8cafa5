// One complete check on the calling thread: extract both answers, normalise, parse the structure, compare.
// The time-out here is cooperative (checked between CAS steps); MathChecker (checker.ts) adds the hard bound by
// running this in a worker thread it terminates.
import type { ComputeEngine } from '@cortex-js/compute-engine';
import { CasContext, CheckTimeout, createEngine, withScope } from './cas.ts';
import { valuesEqual } from './equivalence.ts';
import { extractAnswer, wholePlainNumber } from './extract.ts';
import type { ExtractedAnswer, ExtractionTarget } from './extract.ts';
import { normalizeLatex } from './normalize.ts';
import { describeValue, parseAnswer } from './structure.ts';

export interface VerifyOptions {
  /** Hard bound of the check in milliseconds (default 5000). */
  timeoutMs?: number;
  /** Which candidates extraction may return, for both sides (default both). */
  targets?: readonly ExtractionTarget[];
  /** A gold without math delimiters or boxes (a bare ground truth like "\frac{1}{2}") is used whole (default true). */
  goldFallbackWhole?: boolean;
}

export interface MathVerdict {
  equal: boolean;
  /** Extracted answer texts (null: nothing found). */
  goldAnswer: string | null;
  predAnswer: string | null;
  /** The structures compared, rendered compactly for the audit. */
  goldParsed: string | null;
  predParsed: string | null;
  timedOut: boolean;
  /** Why: 'equivalent', 'not equivalent', 'no answer in prediction', time-out or error text. */
  reason: string;
  /** Which extraction priority found the prediction's answer. */
  predPriority: ExtractedAnswer['priority'] | null;
}

export const DEFAULT_TIMEOUT_MS = 5000;

const MATH_DELIMITERS = /\$|\\\(|\\\[|\\boxed|\\fbox|\\begin\{/;

let sharedEngine: ComputeEngine | undefined;

function engine(): ComputeEngine {
  sharedEngine ??= createEngine();
  return sharedEngine;
}

// A percent on one side only is the bare number ("28\%" against "28"); a percent on both sides stays (each is /100).
function percentAgainstBare(gold: string, pred: string): [string, string] {
  const percent = /\s*\\%$/;
  const g = percent.test(gold);
  const p = percent.test(pred);
  return g === p ? [gold, pred] : [gold.replace(percent, ''), pred.replace(percent, '')];
}

export function verifyMathSync(gold: string, pred: string, options: VerifyOptions = {}): MathVerdict {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const targets = options.targets ?? ['latex', 'expr'];
  // A bare ground truth ("\frac{1}{2}", "34") is the answer itself: running number extraction on it would pick
  // the "2" out of "\frac{1}{2}". Only a gold written as a response (delimiters, boxes) goes through extraction.
  const wholeGold = options.goldFallbackWhole !== false && !MATH_DELIMITERS.test(gold) && gold.trim() !== '';
  const goldFound = wholeGold ? null : extractAnswer(gold, { targets });
  const goldAnswer = wholeGold ? (wholePlainNumber(gold) ?? gold.trim()) : (goldFound?.text ?? null);
  // Bare LaTeX without delimiters ("\frac{10}{9}") is read whole, as a LaTeX answer.
  const bareLatex = targets.includes('latex') && !MATH_DELIMITERS.test(pred) && /\\[a-zA-Z]/.test(pred) && pred.length <= 200;
  const predFound: ExtractedAnswer | null = extractAnswer(pred, { targets }) ?? (bareLatex ? { text: pred.trim(), kind: 'latex', priority: 'last-candidate', start: 0 } : null);
  const verdict: MathVerdict = {
    equal: false,
    goldAnswer,
    predAnswer: predFound?.text ?? null,
    goldParsed: null,
    predParsed: null,
    timedOut: false,
    reason: '',
    predPriority: predFound?.priority ?? null,
  };
  if (goldAnswer === null) return { ...verdict, reason: 'no answer in gold' };
  if (predFound === null) return { ...verdict, reason: 'no answer in prediction' };
  const [goldText, predText] = percentAgainstBare(normalizeLatex(goldAnswer), normalizeLatex(predFound.text));
  const goldValue = parseAnswer(goldText);
  const predValue = parseAnswer(predText);
  verdict.goldParsed = describeValue(goldValue);
  verdict.predParsed = describeValue(predValue);
  const ce = engine();
  try {
    const equal = withScope(ce, () => valuesEqual(new CasContext(ce, timeoutMs), goldValue, predValue));
    return { ...verdict, equal, reason: equal ? 'equivalent' : 'not equivalent' };
  } catch (err) {
    if (err instanceof CheckTimeout) return { ...verdict, timedOut: true, reason: err.message };
    // A CAS failure on odd input is a wrong answer, never a crashed rollout.
    return { ...verdict, reason: `checker error: ${err instanceof Error ? err.message : String(err)}` };
  }
}
