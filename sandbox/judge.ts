// The code judge: runs a candidate solution against a problem's tests in a sandbox and scores it. Expected
// outputs never enter the sandbox for TACO problems (comparison happens here), so a solution cannot read them.
import { isLeetCode, parseCodeGroundTruth } from '../schemas/ground-truth.ts';
import type { CodeGroundTruth, LeetCodeGroundTruth, TacoGroundTruth } from '../schemas/ground-truth.ts';
import { outputsMatch, textOf, valuesMatch } from './compare.ts';
import type { CompareOptions } from './compare.ts';
import type { CaseRun, CaseRunner } from './types.ts';

export type TestStatus = 'passed' | 'wrong_answer' | 'runtime_error' | 'timeout' | 'sandbox_error' | 'not_run';

export interface TestVerdict {
  index: number;
  status: TestStatus;
  passed: boolean;
  /** Short reason for a failure (error line, time-out), for logs. */
  detail?: string;
  timeMs: number;
}

export interface JudgeResult {
  perTest: TestVerdict[];
  passed: number;
  total: number;
  passFraction: number;
  allPass: boolean;
  /** Some test could not be judged because the sandbox itself failed. */
  sandboxError: boolean;
}

export interface JudgeOptions {
  sandbox: CaseRunner;
  /** Per-test time-out. Default 30 s (recipe reward-time limit). */
  timeoutMs?: number;
  /** Default 1024 MiB (recipe reward-time limit). */
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

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

function processVerdict(index: number, run: CaseRun): TestVerdict | null {
  if (run.status === 'timeout') return { index, status: 'timeout', passed: false, detail: run.reason ?? 'time-out', timeMs: run.executionTimeMs };
  if (run.status === 'sandbox_error') return { index, status: 'sandbox_error', passed: false, detail: lastLine(run.stderr), timeMs: run.executionTimeMs };
  if (run.status === 'error') {
    const detail = run.reason === 'output_limit' ? 'output limit exceeded' : lastLine(run.stderr) || `exit ${run.exitCode ?? run.signal}`;
    return { index, status: 'runtime_error', passed: false, detail, timeMs: run.executionTimeMs };
  }
  return null;
}

function notRun(index: number): TestVerdict {
  return { index, status: 'not_run', passed: false, timeMs: 0 };
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
  if (runs.length === 1 && runs[0].status === 'sandbox_error' && count > 1) {
    // The whole batch failed before any test ran (the server died): every test is a sandbox error.
    return inputs.map((_, index) => ({ index, status: 'sandbox_error', passed: false, detail: lastLine(runs[0].stderr), timeMs: 0 }));
  }
  return inputs.map((_, index) => {
    const run = runs[index];
    if (!run) return notRun(index);
    const failed = processVerdict(index, run);
    if (failed) return failed;
    let ok: boolean;
    if (callBased) {
      const report = run.reports.find((r) => 'value' in r);
      if (!report) return { index, status: 'runtime_error', passed: false, detail: 'no return value reported', timeMs: run.executionTimeMs };
      const expected = outputs[index];
      // TACO often wraps the expected return value in a one-element list: accept either form.
      ok = valuesMatch(report.value, expected, opts.compare) ||
        (Array.isArray(expected) && expected.length > 0 && valuesMatch(report.value, expected[0], opts.compare));
    } else {
      ok = outputsMatch(run.stdout, textOf(outputs[index]), opts.compare);
    }
    return ok
      ? { index, status: 'passed', passed: true, timeMs: run.executionTimeMs }
      : { index, status: 'wrong_answer', passed: false, timeMs: run.executionTimeMs };
  });
}

async function judgeLeetCode(gt: LeetCodeGroundTruth, solution: string, opts: JudgeOptions): Promise<TestVerdict[]> {
  const caseTimeoutMs = opts.timeoutMs ?? 30_000;
  // The process time-out covers every assert plus start-up; asserts are counted from the (trusted) test text.
  const assertCount = (gt.test.match(/\bassert\b/g) ?? []).length;
  const [run] = await opts.sandbox.runCases(
    { mode: 'leetcode', prompt: gt.prompt, code: solution, test: gt.test, entryPoint: gt.entry_point, caseTimeoutMs },
    { timeoutMs: caseTimeoutMs * (assertCount + 1), memoryMb: opts.memoryMb ?? 1024 },
  );
  const declared = run.reports.find((r) => typeof r.cases === 'number');
  if (!declared) {
    if (run.status === 'sandbox_error') return [{ index: 0, status: 'sandbox_error', passed: false, detail: lastLine(run.stderr), timeMs: 0 }];
    throw new Error(`LeetCode test harness reported no cases (status ${run.status}): ${lastLine(run.stderr)}`);
  }
  const total = Math.min(declared.cases as number, opts.firstK ?? Infinity);
  const byCase = new Map<number, Record<string, unknown>>();
  for (const report of run.reports) if (typeof report.case === 'number') byCase.set(report.case, report);
  const perTest: TestVerdict[] = [];
  let firstMissing = true;
  for (let index = 0; index < total; index++) {
    const report = byCase.get(index);
    if (report) {
      const status = report.status as string;
      const error = String(report.error ?? '');
      if (status === 'passed') perTest.push({ index, status: 'passed', passed: true, timeMs: 0 });
      else if (status === 'timeout') perTest.push({ index, status: 'timeout', passed: false, detail: 'time-out', timeMs: caseTimeoutMs });
      else perTest.push({ index, status: error.startsWith('AssertionError') ? 'wrong_answer' : 'runtime_error', passed: false, detail: error, timeMs: 0 });
      continue;
    }
    // No verdict: the process ended before this assert (crash at import, time-out, killed).
    const verdict = processVerdict(index, run) ?? { index, status: 'runtime_error' as const, passed: false, detail: 'check() stopped before this assert', timeMs: 0 };
    perTest.push(firstMissing || verdict.status !== 'timeout' ? verdict : notRun(index));
    firstMissing = false;
  }
  return perTest;
}

/** Judge one solution against one problem's tests. */
export async function judge(problem: CodeGroundTruth | string, solution: string, opts: JudgeOptions): Promise<JudgeResult> {
  const gt = typeof problem === 'string' ? parseCodeGroundTruth(problem) : problem;
  const perTest = isLeetCode(gt) ? await judgeLeetCode(gt, solution, opts) : await judgeTaco(gt, solution, opts);
  return summarize(perTest);
}

/** The last ```python fenced block of a response, or null when there is none. */
export function extractLastPythonBlock(response: string): string | null {
  const blocks = [...response.matchAll(/```python[^\S\n]*\n([\s\S]*?)```/g)];
  return blocks.length ? blocks[blocks.length - 1][1] : null;
}

export interface CodeOutcomeOptions extends Omit<JudgeOptions, 'stopOnFirstFailure'> {
  /** fraction (the recipe): passed / total; binary: 1 when every test passes, else 0. */
  rewardMode?: 'fraction' | 'binary';
}

export interface CodeOutcome {
  /** -1 when there is no parseable code or judging failed; otherwise the score in [0, 1]. */
  score: number;
  reason: 'judged' | 'no_code_block' | 'unparseable' | 'judge_error';
  detail?: string;
  judge?: JudgeResult;
}

/** The code outcome reward of recipe.md section 3. */
export async function codeOutcome(response: string, groundTruth: CodeGroundTruth | string, opts: CodeOutcomeOptions): Promise<CodeOutcome> {
  const code = extractLastPythonBlock(response);
  if (code === null) return { score: -1, reason: 'no_code_block' };
  try {
    const gt = typeof groundTruth === 'string' ? parseCodeGroundTruth(groundTruth) : groundTruth;
    const [parse] = await opts.sandbox.runCases({ mode: 'parse', code }, { timeoutMs: 10_000, memoryMb: opts.memoryMb ?? 1024 });
    const verdict = parse.reports.find((r) => typeof r.parsed === 'boolean');
    if (!verdict) return { score: -1, reason: 'judge_error', detail: `parse check failed: ${parse.status} ${lastLine(parse.stderr)}` };
    if (!verdict.parsed) return { score: -1, reason: 'unparseable', detail: String(verdict.error ?? '') };
    const binary = opts.rewardMode === 'binary';
    const result = await judge(gt, code, { ...opts, stopOnFirstFailure: binary });
    if (result.sandboxError) return { score: -1, reason: 'judge_error', detail: 'the sandbox failed during judging', judge: result };
    return { score: binary ? (result.allPass ? 1 : 0) : result.passFraction, reason: 'judged', judge: result };
  } catch (err) {
    return { score: -1, reason: 'judge_error', detail: (err as Error).message };
  }
}
