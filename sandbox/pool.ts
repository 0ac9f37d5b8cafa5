// The pool of fork servers behind the local sandbox. A call takes an idle server (starting a fresh one when the slot
// is empty, dead, or retired), sends one request and hands the server back. Infrastructure failures (the server
// died, stopped answering, or sent an unreadable frame) are retried on a fresh server; when retries run out the
// call comes back as sandbox_error, never as a verdict on the snippet.
import { ForkServer, SandboxServerError } from './fork-server.ts';
import type { SandboxCommandOptions } from './bwrap.ts';
import { createMemoryCgroup } from './cgroup.ts';
import type { CaseRun } from './types.ts';

export interface PoolOptions {
  size: number;
  /** Command options of server `slot` (its own host uid). */
  commandFor(slot: number): SandboxCommandOptions;
  startTimeoutMs: number;
  /** Extra attempts on a fresh server after an infrastructure failure. */
  retries: number;
}

// Memory the server itself (and modules it preloaded) may hold on top of one snippet's memoryMb in the cgroup.
export const SERVER_ALLOWANCE_BYTES = 512 * 1024 * 1024;

export function sandboxErrorResult(message: string): CaseRun {
  return { status: 'sandbox_error', exitCode: null, stdout: '', stderr: message, executionTimeMs: 0, reason: 'sandbox_error', signal: null, reports: [] };
}

function fromWire(raw: any): CaseRun {
  return {
    status: raw.status,
    exitCode: raw.exitCode ?? null,
    stdout: raw.stdout ?? '',
    stderr: raw.stderr ?? '',
    executionTimeMs: raw.timeMs ?? 0,
    reason: raw.reason ?? null,
    signal: raw.signal ?? null,
    reports: Array.isArray(raw.reports) ? raw.reports : [],
  };
}

let poolCounter = 0;

export async function startServer(command: SandboxCommandOptions, startTimeoutMs: number): Promise<ForkServer> {
  const cgroup = createMemoryCgroup(`agentrl-sandbox-${process.pid}-${poolCounter++}`);
  return ForkServer.start(command, startTimeoutMs, cgroup);
}

export class ServerPool {
  private readonly slots: (ForkServer | null)[];
  private readonly idle: number[];
  private readonly waiters: ((slot: number) => void)[] = [];
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    this.slots = new Array(options.size).fill(null);
    this.idle = [...Array(options.size).keys()].reverse();
  }

  get idleCount(): number {
    return this.idle.length;
  }

  async withServer<T>(fn: (server: ForkServer) => Promise<T>): Promise<T> {
    if (this.closed) throw new SandboxServerError('the sandbox is closed');
    const slot = this.idle.length > 0 ? this.idle.pop()! : await new Promise<number>((resolve) => this.waiters.push(resolve));
    if (slot < 0) throw new SandboxServerError('the sandbox is closed');
    try {
      let server = this.slots[slot];
      if (!server || !server.alive) {
        server?.kill();
        this.slots[slot] = null;
        server = await startServer(this.options.commandFor(slot), this.options.startTimeoutMs);
        if (this.closed) {
          server.kill();
          throw new SandboxServerError('the sandbox is closed');
        }
        this.slots[slot] = server;
      }
      return await fn(server);
    } finally {
      const next = this.waiters.shift();
      if (next) next(slot);
      else this.idle.push(slot);
    }
  }

  /**
   * One request with a list of cases. A server that retires after case k (it could not wipe what the snippet left)
   * has answered cases 0..k; the rest go to a fresh server. Infrastructure failures are retried from scratch.
   */
  async send(body: Record<string, unknown> & { cases?: unknown[] }, backstopMs: number, memoryBytes: number): Promise<CaseRun[]> {
    const cases = body.cases ?? [{}];
    const done: CaseRun[] = [];
    let failures = 0;
    while (done.length < cases.length) {
      const rest = cases.slice(done.length);
      try {
        const response = await this.withServer(async (server) => {
          server.cgroup?.setLimit(memoryBytes + SERVER_ALLOWANCE_BYTES);
          return server.request({ ...body, cases: rest }, backstopMs);
        });
        if (response.error) throw new SandboxServerError(`sandbox server failed: ${response.error}`);
        const runs = (response.results as unknown[]).map(fromWire);
        done.push(...runs);
        const stopped = body.stopOnFailure === true && runs.some((run) => run.status !== 'finished');
        if (!response.retire || stopped || runs.length === 0) break;
      } catch (err) {
        if (!(err instanceof SandboxServerError)) throw err;
        if (++failures > this.options.retries || this.closed) {
          // Every case left without an answer is a sandbox error (never a verdict on the snippet).
          const failed = sandboxErrorResult(failures > 1 ? `${err.message} (after ${failures} attempts)` : err.message);
          done.push(...rest.map(() => failed));
          break;
        }
      }
    }
    return done;
  }

  async warmUp(): Promise<void> {
    await Promise.all(this.slots.map(() => this.withServer(async () => {})));
  }

  async close(): Promise<void> {
    this.closed = true;
    const servers = this.slots.filter((server): server is ForkServer => server !== null);
    this.slots.fill(null);
    await Promise.all(servers.map((server) => server.shutdown()));
    for (const waiter of this.waiters.splice(0)) waiter(-1);
  }
}
