// LeetCode judging with the verdict outside the candidate's reach. Three steps, three kinds of process:
//  1. plan (no candidate code): the test's check(candidate) is parsed; each top-level assert is one case = the
//     candidate calls it makes + the assert's test with those calls replaced by their results.
//  2. call (candidate code, one fresh process per case, the sandbox's wall-clock limit per case): prompt + solution
//     run, the case's calls are evaluated, results leave as typed plain data. No expected value is in the process.
//  3. judge (no candidate code): the results are rebuilt from data and each assert's test is evaluated with
//     Python's semantics. A result that is not plain builtin data (or a helper ListNode/TreeNode) fails its case.
import type { LeetCodeGroundTruth } from '../../schemas/ground-truth.ts';
import { GroundTruthError } from '../../schemas/ground-truth.ts';
import type { CaseJobOptions, CaseRun, CaseRunner } from '../../sandbox/types.ts';
import { lastLine, notRun, processVerdict, verdict } from './verdicts.ts';
import type { TestVerdict } from './verdicts.ts';

interface Plan {
  setup: string;
  cases: { calls: string[]; check: string }[];
}

export interface LeetCodeJudgeOptions {
  sandbox: CaseRunner;
  timeoutMs: number;
  memoryMb: number;
  firstK?: number;
  stopOnFirstFailure?: boolean;
}

/** Thrown when the sandbox itself failed in a step that runs no candidate code: an infrastructure failure. */
export class JudgeStepError extends Error {
  constructor(step: string, run: CaseRun) {
    super(`LeetCode ${step} step failed (${run.status}${run.reason ? `, ${run.reason}` : ''}): ${lastLine(run.stderr)}`);
    this.name = 'JudgeStepError';
  }
}

async function planOf(gt: LeetCodeGroundTruth, opts: LeetCodeJudgeOptions, runOpts: CaseJobOptions): Promise<Plan> {
  const [run] = await opts.sandbox.runCases({ mode: 'leetcode_plan', test: gt.test }, runOpts);
  if (run.status === 'sandbox_error') throw new JudgeStepError('plan', run);
  // No candidate code runs in this step: any other failure is the test source's.
  if (run.status !== 'finished') throw new GroundTruthError('LeetCode test', `could not be planned: ${lastLine(run.stderr)}`);
  const error = run.reports.find((r) => typeof r.planError === 'string');
  if (error) throw new GroundTruthError('LeetCode test', String(error.planError));
  const plan = run.reports.find((r) => r.plan)?.plan as Plan | undefined;
  if (!plan) throw new JudgeStepError('plan', run);
  return plan;
}

/** The typed results of one case's calls, or why the case failed before the judge step. */
function resultsOf(index: number, run: CaseRun, callCount: number): { values: unknown[] } | TestVerdict {
  const values: unknown[] = new Array(callCount);
  const seen = new Set<number>();
  for (const report of run.reports) {
    const call = report.call;
    // Exactly one report per call: anything else is not what an honest run of the harness produces.
    if (typeof call !== 'number' || call < 0 || call >= callCount || seen.has(call)) return { index, status: 'runtime_error', passed: false, detail: 'malformed result report', timeMs: run.executionTimeMs };
    seen.add(call);
    if ('unsupported' in report) return { index, status: 'wrong_answer', passed: false, detail: `not plain data: ${String(report.unsupported)}`, timeMs: run.executionTimeMs };
    values[call] = report.value;
  }
  const failed = processVerdict(index, run);
  if (failed) return failed;
  if (seen.size !== callCount) return { index, status: 'runtime_error', passed: false, detail: 'no return value reported', timeMs: run.executionTimeMs };
  return { values };
}

export async function judgeLeetCode(gt: LeetCodeGroundTruth, solution: string, opts: LeetCodeJudgeOptions): Promise<TestVerdict[]> {
  const trustedOpts = { timeoutMs: Math.max(opts.timeoutMs, 10_000), memoryMb: opts.memoryMb };
  const plan = await planOf(gt, opts, trustedOpts);
  const cases = plan.cases.slice(0, opts.firstK ?? Infinity);
  const runs = await opts.sandbox.runCases(
    { mode: 'leetcode_call', prompt: gt.prompt, setup: plan.setup, code: solution, entryPoint: gt.entry_point, cases: cases.map((c) => c.calls) },
    { timeoutMs: opts.timeoutMs, memoryMb: opts.memoryMb, stopOnFailure: opts.stopOnFirstFailure ?? false },
  );
  const perTest: (TestVerdict | null)[] = [];
  const pending: { index: number; check: string; values: unknown[] }[] = [];
  cases.forEach((c, index) => {
    const run = runs[index];
    if (!run) return perTest.push(notRun(index));
    const outcome = resultsOf(index, run, c.calls.length);
    if ('status' in outcome) return perTest.push(outcome);
    pending.push({ index, check: c.check, values: outcome.values });
    perTest.push(null);
  });
  if (pending.length > 0) {
    const [judged] = await opts.sandbox.runCases(
      { mode: 'leetcode_judge', prompt: gt.prompt, setup: plan.setup, checks: pending.map((p) => p.check), results: pending.map((p) => p.values) },
      { ...trustedOpts, timeoutMs: trustedOpts.timeoutMs * 2 },
    );
    if (judged.status === 'sandbox_error') throw new JudgeStepError('judge', judged);
    pending.forEach((p, k) => {
      // A case the judge step could not decide (its process failed, e.g. on a huge answer) is not passed.
      const report = judged.reports.find((r) => r.case === k);
      const detail = report ? (report.error ? String(report.error) : undefined) : `judge step ${judged.status}: ${lastLine(judged.stderr)}`;
      perTest[p.index] = verdict(p.index, report?.passed === true, runs[p.index], detail);
    });
  }
  return perTest as TestVerdict[];
}
