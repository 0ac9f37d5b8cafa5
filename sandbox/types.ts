// Shared vocabulary of the sandbox layer: what a caller asks for, what comes back, and the one interface both
// backends (the local bubblewrap sandbox and a remote SandboxFusion service) implement.

export type RunStatus = 'finished' | 'error' | 'timeout' | 'sandbox_error';

export interface RunRequest {
  /** Python source, run as `__main__`. */
  code: string;
  /** Text fed to the program's standard input. */
  stdin?: string;
  /** Files placed in the working directory before the run: relative path -> bytes (a string is UTF-8 text). */
  files?: Record<string, string | Uint8Array>;
  /** Wall-clock limit for this run; CPU time is capped at the same number of (whole) seconds. */
  timeoutMs?: number;
  /** Address-space limit in MiB. */
  memoryMb?: number;
  /** REPL-like echo: if the last statement is an expression, print its repr when not None (found by parsing). */
  echoLastExpression?: boolean;
}

export interface RunResult {
  status: RunStatus;
  /** Exit status when the process exited; null when it was killed by a signal or never ran. */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time of the run as measured by the backend. */
  executionTimeMs: number;
  /** Why a run was cut short: wall_timeout, cpu_timeout, output_limit, or a backend-specific text. */
  reason?: string | null;
  /** Name of the signal that ended the process, if any. */
  signal?: string | null;
}

/** A place that runs untrusted Python. Both backends implement it; callers never need to know which one. */
export interface Sandbox {
  readonly backend: 'local' | 'sandboxfusion';
  run(request: RunRequest): Promise<RunResult>;
  close(): Promise<void>;
}

/** Resource limits of one run inside the local sandbox. */
export interface RunLimits {
  timeoutMs: number;
  memoryMb: number;
  /** Largest file one run may write (RLIMIT_FSIZE). */
  fileSizeBytes: number;
  /** Processes + threads a run may have at once (RLIMIT_NPROC, per sandbox uid). */
  processes: number;
  /** Open file descriptors (RLIMIT_NOFILE). */
  openFiles: number;
  /** stdout + stderr kept per run; more than this kills the run (output_limit). */
  maxOutputBytes: number;
}

export const DEFAULT_RUN_LIMITS: RunLimits = {
  timeoutMs: 30_000,
  memoryMb: 2048,
  fileSizeBytes: 16 * 1024 * 1024,
  processes: 64,
  openFiles: 256,
  maxOutputBytes: 16 * 1024 * 1024,
};

/**
 * Many runs of one program, the judge's unit of work. The local sandbox runs every case as a fresh fork of one
 * warm interpreter inside one bubblewrap (one round trip per problem, not one sandbox per test). Results come back
 * as plain data in `reports`; expected values never enter the sandbox's candidate processes.
 *  - stdin: run the program once per stdin text.
 *  - call: exec the solution, then call fnName (a `class Solution` method or a plain function) with each args list;
 *    the return value comes back as plain JSON (`{value}`; `{unsupported}` for anything but builtin data).
 *  - leetcode_plan: parse a LeetCode test source (no candidate code runs): `{plan: {setup, cases}}` or `{planError}`.
 *  - leetcode_call: per case, one process runs prompt + solution + setup and evaluates that case's candidate calls;
 *    each result comes back as typed plain data (`{call, value}` or `{call, unsupported}`).
 *  - leetcode_judge: one process without candidate code runs prompt + setup and evaluates each case's assert test on
 *    the rebuilt results: `{case, passed, error?}`.
 *  - parse: ast.parse the code, reported as {parsed, error?}.
 */
export type CaseJob =
  | { mode: 'stdin'; code: string; stdins: string[] }
  | { mode: 'call'; code: string; fnName: string; argsList: unknown[][] }
  | { mode: 'leetcode_plan'; test: string }
  | { mode: 'leetcode_call'; prompt: string; setup: string; code: string; entryPoint: string; cases: string[][] }
  | { mode: 'leetcode_judge'; prompt: string; setup: string; checks: string[]; results: unknown[][] }
  | { mode: 'parse'; code: string };

export interface CaseJobOptions {
  /** Per case (stdin/call) or for the whole process (leetcode, parse). */
  timeoutMs: number;
  memoryMb: number;
  /** Stop at the first case whose process does not finish cleanly. */
  stopOnFailure?: boolean;
}

export interface CaseRun extends RunResult {
  /** Structured lines the harness reported for this process (call results, assert verdicts, parse verdicts). */
  reports: Record<string, unknown>[];
}

/** Backends that can run a CaseJob (the code judge needs one). */
export interface CaseRunner {
  runCases(job: CaseJob, options: CaseJobOptions): Promise<CaseRun[]>;
}
