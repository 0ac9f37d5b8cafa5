// Stateful sessions of the local sandbox: one persistent interpreter (e.g. per trajectory) in a sandbox of its own.
// Variables, imports and /tmp files survive between its runs; a time-out or crash restarts the interpreter and
// the next run's stderr starts with a note that earlier state is gone.
import { SandboxServerError } from './fork-server.ts';
import type { ForkServer } from './fork-server.ts';
import type { SandboxCommandOptions } from './bwrap.ts';
import { SERVER_ALLOWANCE_BYTES, sandboxErrorResult, startServer } from './pool.ts';
import type { RunRequest, RunResult, Sandbox } from './types.ts';

export const LOST_STATE_NOTE = '[the interpreter was restarted: variables from earlier calls are gone]\n';

export interface SessionContext {
  command: SandboxCommandOptions;
  startTimeoutMs: number;
  backstopSlackMs: number;
  /** The request body of one run (mode, code, files, limits) as the server expects it. */
  body(request: RunRequest): Record<string, unknown> & { limits: { timeoutMs: number; memoryBytes: number } };
  isClosed(): boolean;
}

function plainResult(run: RunResult & { reports?: unknown }): RunResult {
  const { reports: _reports, ...plain } = run;
  return plain;
}

export function openLocalSession(context: SessionContext, onClose: (session: Sandbox) => void): Sandbox {
  let server: ForkServer | null = null;
  let replaced = false;
  let sessionClosed = false;
  let tail: Promise<unknown> = Promise.resolve();

  const runOnce = async (request: RunRequest): Promise<RunResult> => {
    if (sessionClosed || context.isClosed()) return plainResult(sandboxErrorResult('the sandbox session is closed'));
    const body = { ...context.body(request), mode: 'session' };
    let note = '';
    try {
      if (!server || !server.alive) {
        if (server) replaced = true;
        server = await startServer(context.command, context.startTimeoutMs);
      }
      if (replaced) note = LOST_STATE_NOTE;
      replaced = false;
      server.cgroup?.setLimit(body.limits.memoryBytes + SERVER_ALLOWANCE_BYTES);
      const response = await server.request(body, body.limits.timeoutMs + context.backstopSlackMs);
      if (response.error) throw new SandboxServerError(`sandbox server failed: ${response.error}`);
      const raw = response.results[0];
      return {
        status: raw.status, exitCode: raw.exitCode ?? null, stdout: raw.stdout ?? '', stderr: note + (raw.stderr ?? ''),
        executionTimeMs: raw.timeMs ?? 0, reason: raw.reason ?? null, signal: raw.signal ?? null,
      };
    } catch (err) {
      if (!(err instanceof SandboxServerError)) throw err;
      server?.kill();
      replaced = true;
      return plainResult(sandboxErrorResult(err.message));
    }
  };

  const session: Sandbox = {
    backend: 'local',
    run(request: RunRequest): Promise<RunResult> {
      // One interpreter: calls of a session run one after another, in the order they were made.
      const result = tail.then(() => runOnce(request));
      tail = result.catch(() => {});
      return result;
    },
    async close(): Promise<void> {
      sessionClosed = true;
      onClose(session);
      await server?.shutdown();
    },
  };
  return session;
}
