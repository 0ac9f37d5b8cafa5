// Messages between MathChecker and its worker thread.
import type { MathVerdict, VerifyOptions } from './verifySync.ts';

export interface CheckRequest {
  id: number;
  gold: string;
  pred: string;
  options: VerifyOptions;
}

export type CheckResponse = { id: number; verdict: MathVerdict } | { id: number; error: string };
