// The code judge: runs a candidate solution against a problem's tests in a sandbox and decides each test outside
// the candidate's process. Expected values never enter the sandbox's candidate processes; results come back as
// plain data (stdout text, or JSON of builtin values) and are compared here (TACO) or in a judge-side process
// that runs no candidate code (LeetCode, see leetcode.ts).
import { isLeetCode, parseCodeGroundTruth } from '../../schemas/ground-truth.ts';
import type { CodeGroundTruth, TacoGroundTruth } from '../../schemas/ground-truth.ts';
import type { CaseRun, CaseRunner } from '../../sandbox/types.ts';
import { outputsMatch, textOf, valuesMatch } from './compare.ts';
import type { CompareOptions } from './compare.ts';
import { judgeLeetCode } from './leetcode.ts';
import { notRun, processVerdict, verdict } from './verdicts.ts';
import type { TestVerdict } from './verdicts.ts';

export type { TestStatus, TestVerdict } from './verdicts.ts';

export interface JudgeResult {
  perTest: TestVerdict[];
  passed: number;
  total: number;
  passFraction: number;
  allPass: boolean;
  /** Some test could not be judged because the sandbox itself failed (retry; never a verdict). */
  sandboxError: boolean;
}

export interface JudgeOptions {
  sandbox: CaseRunner;
  /** Per-test time-out, enforced from outside the candidate's process. Default 30 s (reward-time limit). */
  timeoutMs?: number;
  /** Default 1024 MiB (reward-time limit). */
  memoryMb?: number;
  /** Judge only the first k tests (TACO problems average ~200). */
  firstK?: number;
  /** Stop at the first test whose process fails (enough for all-pass scoring); later tests become not_run. */
  stopOnFirstFailure?: boolean;
  compare?: CompareOptions;
}

function summarize(perTest: TestVerdict[]): JudgeResult {
  const passed = perTest.filter((t) => t.passed).length;
  const total = perTest.length;
  return {
    perTest,
    passed,
    total,
    passFraction: total === 0 ? 0 : passed / total,
    allPass: total > 0 && passed === total,
    sandboxError: perTest.some((t) => t.status === 'sandbox_error'),
  };
}

/** A call-based result against TACO's expected value (which TACO often wraps in a one-element list). */
function callResultMatches(run: CaseRun, expected: unknown, compare?: CompareOptions): boolean | string {
  const reports = run.reports.filter((r) => 'value' in r || 'unsupported' in r);
  if (reports.length !== 1) return reports.length === 0 ? 'no return value reported' : 'malformed result report';
  const report = reports[0];
  if ('unsupported' in report) return `not plain data: ${String(report.unsupported)}`;
  if (valuesMatch(report.value, expected, compare)) return true;
  // The wrapped form is accepted only when it wraps exactly one value.
  return Array.isArray(expected) && expected.length === 1 && valuesMatch(report.value, expected[0], compare);
}

async function judgeTaco(gt: TacoGroundTruth, solution: string, opts: JudgeOptions): Promise<TestVerdict[]> {
  const count = Math.min(gt.inputs.length, opts.firstK ?? Infinity);
  const inputs = gt.inputs.slice(0, count);
  const outputs = gt.outputs.slice(0, count);
  const runOptions = { timeoutMs: opts.timeoutMs ?? 30_000, memoryMb: opts.memoryMb ?? 1024, stopOnFailure: opts.stopOnFirstFailure ?? false };
  const callBased = gt.fn_name !== undefined;
  const runs = callBased
    ? await opts.sandbox.runCases({ mode: 'call', code: solution, fnName: gt.fn_name!, argsList: inputs as unknown[][] }, runOptions)
    : await opts.sandbox.runCases({ mode: 'stdin', code: solution, stdins: inputs.map(textOf) }, runOptions);
  return inputs.map((_, index) => {
    const run = runs[index];
    if (!run) return notRun(index);
    if (callBased) {
      // The report is read before the exit status: a malformed report is the candidate's failure either way.
      const matched = run.status === 'finished' ? callResultMatches(run, outputs[index], opts.compare) : false;
      const failed = processVerdict(index, run);
      if (failed) return failed;
      if (typeof matched === 'string') return { index, status: matched === 'no return value reported' || matched === 'malformed result report' ? 'runtime_error' : 'wrong_answer', passed: false, detail: matched, timeMs: run.executionTimeMs };
      return verdict(index, matched, run);
    }
    return processVerdict(index, run) ?? verdict(index, outputsMatch(run.stdout, textOf(outputs[index]), opts.compare), run);
  });
}

/** Judge one solution against one problem's tests. Throws GroundTruthError for an invalid problem. */
export async function judge(problem: CodeGroundTruth | string, solution: string, opts: JudgeOptions): Promise<JudgeResult> {
  const gt = typeof problem === 'string' ? parseCodeGroundTruth(problem) : problem;
  const perTest = isLeetCode(gt)
    ? await judgeLeetCode(gt, solution, { ...opts, timeoutMs: opts.timeoutMs ?? 30_000, memoryMb: opts.memoryMb ?? 1024 })
    : await judgeTaco(gt, solution, opts);
  return summarize(perTest);
}
