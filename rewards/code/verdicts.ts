// Per-test verdicts of the code judge and how a sandbox run maps onto them.
import type { CaseRun } from '../../sandbox/types.ts';

export type TestStatus = 'passed' | 'wrong_answer' | 'runtime_error' | 'timeout' | 'sandbox_error' | 'not_run';

export interface TestVerdict {
  index: number;
  status: TestStatus;
  passed: boolean;
  /** Short reason for a failure (error line, time-out), for logs. */
  detail?: string;
  timeMs: number;
}

export function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return (lines[lines.length - 1] ?? '').slice(0, 300);
}

/** The verdict a process earns by how it ended, or null when it finished and its output decides. */
export function processVerdict(index: number, run: CaseRun): TestVerdict | null {
  if (run.status === 'timeout') return { index, status: 'timeout', passed: false, detail: run.reason ?? 'time-out', timeMs: run.executionTimeMs };
  if (run.status === 'sandbox_error') return { index, status: 'sandbox_error', passed: false, detail: lastLine(run.stderr), timeMs: run.executionTimeMs };
  if (run.status === 'error') {
    const detail = run.reason === 'output_limit' ? 'output limit exceeded' : lastLine(run.stderr) || `exit ${run.exitCode ?? run.signal}`;
    return { index, status: 'runtime_error', passed: false, detail, timeMs: run.executionTimeMs };
  }
  return null;
}

export function notRun(index: number): TestVerdict {
  return { index, status: 'not_run', passed: false, timeMs: 0 };
}

export function verdict(index: number, passed: boolean, run: CaseRun, detail?: string): TestVerdict {
  return passed
    ? { index, status: 'passed', passed: true, timeMs: run.executionTimeMs }
    : { index, status: 'wrong_answer', passed: false, timeMs: run.executionTimeMs, ...(detail ? { detail } : {}) };
}
