// The recipe's strict math outcome, as Open-AgentRL computes it: look only at the last 100 characters of the
// response, take the last "\boxed{" there, brace-match it, and compare its content with the ground truth by
// exact string equality. No trimming, no normalisation: "\frac12" and "\frac{1}{2}" differ, on purpose.
import { matchRawBrace } from './latexScan.ts';

export const STRICT_WINDOW_CHARS = 100;

export interface StrictMatch {
  score: 1 | -1;
  /** Content of the last box in the window, or null when there is none (or it is not closed). */
  extracted: string | null;
}

export function lastBoxedInWindow(response: string, windowChars = STRICT_WINDOW_CHARS): string | null {
  const tail = response.slice(-windowChars);
  const at = tail.lastIndexOf('\\boxed{');
  if (at < 0) return null;
  const close = matchRawBrace(tail, at + '\\boxed'.length);
  if (close < 0) return null;
  return tail.slice(at + '\\boxed{'.length, close);
}

export function strictBoxedMatch(response: string, groundTruth: string): StrictMatch {
  const extracted = lastBoxedInWindow(response);
  return { score: extracted !== null && extracted === groundTruth ? 1 : -1, extracted };
}
