// The code outcome reward: the last ```python block of a response, judged against the problem's tests.
// Infrastructure failures are not rewards: they come back as status 'sandbox_error' (no score) and the caller must
// retry the rollout's scoring later; they are never turned into -1.
import { GroundTruthError, parseCodeGroundTruth } from '../../schemas/ground-truth.ts';
import type { CodeGroundTruth } from '../../schemas/ground-truth.ts';
import { judge } from './judge.ts';
import type { JudgeOptions, JudgeResult } from './judge.ts';
import { JudgeStepError } from './leetcode.ts';
import { lastLine } from './verdicts.ts';

/** The last ```python fenced block of a response, or null when there is none. */
export function extractLastPythonBlock(response: string): string | null {
  const blocks = [...response.matchAll(/```python[^\S\n]*\n([\s\S]*?)```/g)];
  return blocks.length ? blocks[blocks.length - 1][1] : null;
}

export interface CodeOutcomeOptions extends Omit<JudgeOptions, 'stopOnFirstFailure'> {
  /** fraction: passed / total; binary: 1 when every test passes, else 0. */
  rewardMode?: 'fraction' | 'binary';
}

export type CodeOutcome =
  | {
      status: 'scored';
      /** -1 without parseable code or with an invalid ground truth; otherwise the score in [0, 1]. */
      score: number;
      reason: 'judged' | 'no_code_block' | 'unparseable' | 'invalid_ground_truth';
      detail?: string;
      judge?: JudgeResult;
    }
  | {
      /** The sandbox failed (server died, channel broke) even after its own retries: retry later, never score. */
      status: 'sandbox_error';
      score: null;
      reason: 'sandbox_error';
      detail: string;
      judge?: JudgeResult;
    };

function sandboxError(detail: string, judged?: JudgeResult): CodeOutcome {
  return { status: 'sandbox_error', score: null, reason: 'sandbox_error', detail, ...(judged ? { judge: judged } : {}) };
}

/** The code outcome reward (docs/rewards.md): -1 / fraction of tests passed / binary all-pass. */
export async function codeOutcome(response: string, groundTruth: CodeGroundTruth | string, opts: CodeOutcomeOptions): Promise<CodeOutcome> {
  const code = extractLastPythonBlock(response);
  if (code === null) return { status: 'scored', score: -1, reason: 'no_code_block' };
  let gt: CodeGroundTruth;
  try {
    gt = typeof groundTruth === 'string' ? parseCodeGroundTruth(groundTruth) : groundTruth;
  } catch (err) {
    return { status: 'scored', score: -1, reason: 'invalid_ground_truth', detail: (err as Error).message };
  }
  const [parse] = await opts.sandbox.runCases({ mode: 'parse', code }, { timeoutMs: 10_000, memoryMb: opts.memoryMb ?? 1024 });
  const parsed = parse.reports.find((r) => typeof r.parsed === 'boolean');
  if (!parsed) return sandboxError(`parse check failed: ${parse.status} ${lastLine(parse.stderr)}`);
  if (!parsed.parsed) return { status: 'scored', score: -1, reason: 'unparseable', detail: String(parsed.error ?? '') };
  const binary = opts.rewardMode === 'binary';
  let result: JudgeResult;
  try {
    result = await judge(gt, code, { ...opts, stopOnFirstFailure: binary });
  } catch (err) {
    if (err instanceof GroundTruthError) return { status: 'scored', score: -1, reason: 'invalid_ground_truth', detail: err.message };
    if (err instanceof JudgeStepError) return sandboxError(err.message);
    throw err;
  }
  if (result.sandboxError) return sandboxError('the sandbox failed during judging', result);
  return { status: 'scored', score: binary ? (result.allPass ? 1 : 0) : result.passFraction, reason: 'judged', judge: result };
}
