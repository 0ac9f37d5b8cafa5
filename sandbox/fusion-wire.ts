// The SandboxFusion /run_code wire format (docs/sandbox.md, "SandboxFusion client") and its mapping onto the shared RunResult.
import type { RunResult, RunStatus } from './types.ts';

/** The JSON body of POST /run_code. */
export interface RunCodeRequest {
  code: string;
  language: 'python';
  run_timeout: number;
  compile_timeout: number;
  memory_limit_MB: number;
  stdin: string;
  files: Record<string, string>;
  fetch_files: string[];
}

export interface RunCodeResponse {
  status?: 'Success' | 'Failed' | 'SandboxError';
  message?: string;
  run_result?: { status?: 'Finished' | 'Error' | 'TimeLimitExceeded'; execution_time?: number | null; return_code?: number | null; stdout?: string | null; stderr?: string | null } | null;
}

/** Map SandboxFusion's response onto the shared RunResult. */
export function fromRunCodeResponse(body: RunCodeResponse): RunResult {
  const run = body.run_result;
  if (body.status === 'SandboxError' || !run || !run.status) {
    return {
      status: 'sandbox_error', exitCode: null, stdout: run?.stdout ?? '', stderr: run?.stderr ?? '',
      executionTimeMs: 0, reason: `SandboxFusion: ${body.status ?? 'no status'}${body.message ? ` (${body.message})` : ''}`, signal: null,
    };
  }
  let status: RunStatus;
  if (run.status === 'TimeLimitExceeded') status = 'timeout';
  else if (run.status === 'Finished' && (run.return_code ?? 0) === 0) status = 'finished';
  else status = 'error';
  return {
    status,
    exitCode: run.return_code ?? null,
    stdout: run.stdout ?? '',
    stderr: run.stderr ?? '',
    executionTimeMs: (run.execution_time ?? 0) * 1000,
    reason: status === 'timeout' ? 'wall_timeout' : null,
    signal: null,
  };
}

