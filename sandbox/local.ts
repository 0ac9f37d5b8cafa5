// The local sandbox: a small pool of bubblewrap'd fork servers (sandbox/py/server.py). A call takes an idle
// server, sends one request, and gets results back; a server that crashed, was killed or stopped answering is
// replaced transparently on the next call. Snippets never share a process or a /tmp (the server forks a fresh
// child per snippet and wipes /tmp and /dev/shm after each).
import { toBase64 } from '../core/base64.ts';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { ForkServer, SandboxServerError } from './fork-server.ts';
import { DEFAULT_RUN_LIMITS } from './types.ts';
import type { CaseJob, CaseJobOptions, CaseRun, CaseRunner, RunLimits, RunRequest, RunResult, Sandbox } from './types.ts';

export interface LocalSandboxOptions {
  /** Fork servers running at once (concurrent calls beyond this wait). Default: CPU count, at most 4. */
  poolSize?: number;
  /** Defaults for every run; per-call timeoutMs / memoryMb override them. */
  limits?: Partial<RunLimits>;
  /** Size of the private /tmp (MiB) and /dev/shm (MiB); both are wiped after every run. */
  tmpfsMb?: number;
  shmMb?: number;
  /** Modules imported once by each server so snippets get them for free (e.g. ['numpy', 'sympy']). */
  preload?: string[];
  /** First host uid for the servers when running as root (server i uses hostUidBase + i). */
  hostUidBase?: number;
  python?: string;
  bwrap?: string;
  setpriv?: string;
  /** How long a fresh server may take to start and preload. */
  startTimeoutMs?: number;
}

export interface LocalSandbox extends Sandbox, CaseRunner {
  readonly backend: 'local';
  /** Start every server of the pool now (otherwise they start on first use). */
  warmUp(): Promise<void>;
  /**
   * A stateful session (one persistent interpreter, e.g. per trajectory) in a sandbox of its own: variables,
   * imports and /tmp files survive between its runs. A time-out or crash restarts the interpreter; the next run's
   * stderr then starts with a note that earlier state is gone. Close it when the trajectory ends.
   */
  openSession(): Promise<Sandbox>;
}

const LOST_STATE_NOTE = '[the interpreter was restarted: variables from earlier calls are gone]\n';

// One program in three files: the child-side harness, the stateful session, and the supervising server (last,
// it calls main()).
const SERVER_SOURCES = ['harness.py', 'session.py', 'server.py'].map((name) => new URL(`./py/${name}`, import.meta.url));
// Slack on top of the sandbox's own time-outs before the host gives up on a server: covers fork, cleanup and
// moving big outputs, and only matters when the server itself is broken.
const BACKSTOP_SLACK_MS = 5_000;
// Below this many tests per server, splitting a problem's tests costs more in round trips than it saves.
const MIN_CASES_PER_SERVER = 4;

function sandboxErrorResult(message: string): CaseRun {
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

export function createLocalSandbox(options: LocalSandboxOptions = {}): LocalSandbox {
  const poolSize = Math.max(1, options.poolSize ?? Math.min(4, availableParallelism()));
  const limits: RunLimits = { ...DEFAULT_RUN_LIMITS, ...options.limits };
  const serverSource = SERVER_SOURCES.map((url) => readFileSync(url, 'utf8')).join('\n\n');
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const slots: (ForkServer | null)[] = new Array(poolSize).fill(null);
  const idle: number[] = [...Array(poolSize).keys()].reverse();
  const waiters: ((slot: number) => void)[] = [];
  let closed = false;

  const sessions = new Set<Sandbox>();
  let sessionCounter = 0;
  const startServer = (slot: number) =>
    ForkServer.start(
      {
        python: options.python ?? '/usr/bin/python3',
        bwrap: options.bwrap ?? 'bwrap',
        setpriv: options.setpriv ?? 'setpriv',
        // Pool servers use base + slot; sessions use the uids after the pool's (so each has its own NPROC count).
        hostUid: (options.hostUidBase ?? 61_000) + slot,
        tmpfsBytes: (options.tmpfsMb ?? 64) * 1024 * 1024,
        shmBytes: (options.shmMb ?? 16) * 1024 * 1024,
        serverConfig: JSON.stringify({ preload: options.preload ?? [] }),
        serverSource,
      },
      startTimeoutMs,
    );

  async function withServer<T>(fn: (server: ForkServer) => Promise<T>): Promise<T> {
    if (closed) throw new SandboxServerError('the sandbox is closed');
    const slot = idle.length > 0 ? idle.pop()! : await new Promise<number>((resolve) => waiters.push(resolve));
    if (slot < 0) throw new SandboxServerError('the sandbox is closed');
    try {
      let server = slots[slot];
      if (!server || !server.alive) {
        server?.kill();
        slots[slot] = null;
        server = await startServer(slot);
        if (closed) {
          server.kill();
          throw new SandboxServerError('the sandbox is closed');
        }
        slots[slot] = server;
      }
      return await fn(server);
    } finally {
      const next = waiters.shift();
      if (next) next(slot);
      else idle.push(slot);
    }
  }

  function wireLimits(timeoutMs: number, memoryMb: number) {
    return {
      timeoutMs,
      cpuSeconds: Math.ceil(timeoutMs / 1000),
      memoryBytes: memoryMb * 1024 * 1024,
      fileSizeBytes: limits.fileSizeBytes,
      processes: limits.processes,
      openFiles: limits.openFiles,
      maxOutputBytes: limits.maxOutputBytes,
    };
  }

  async function send(body: Record<string, unknown>, backstopMs: number): Promise<CaseRun[]> {
    try {
      return await withServer(async (server) => {
        const response = await server.request(body, backstopMs);
        if (response.error) throw new SandboxServerError(`sandbox server failed: ${response.error}`);
        return (response.results as unknown[]).map(fromWire);
      });
    } catch (err) {
      if (err instanceof SandboxServerError) return [sandboxErrorResult(err.message)];
      throw err;
    }
  }

  const sandbox: LocalSandbox = {
    backend: 'local',

    async run(request: RunRequest): Promise<RunResult> {
      const timeoutMs = request.timeoutMs ?? limits.timeoutMs;
      const files: Record<string, string> = {};
      for (const [path, content] of Object.entries(request.files ?? {})) files[path] = toBase64(content);
      const [result] = await send(
        {
          mode: 'script',
          code: request.code,
          echo: request.echoLastExpression ?? false,
          files,
          cases: [{ stdin: request.stdin ?? '' }],
          limits: wireLimits(timeoutMs, request.memoryMb ?? limits.memoryMb),
        },
        timeoutMs + BACKSTOP_SLACK_MS,
      );
      const { reports: _reports, ...plain } = result;
      return plain;
    },

    async runCases(job: CaseJob, opts: CaseJobOptions): Promise<CaseRun[]> {
      const base = { limits: wireLimits(opts.timeoutMs, opts.memoryMb), stopOnFailure: opts.stopOnFailure ?? false };
      const backstop = (processes: number) => processes * (opts.timeoutMs + 200) + BACKSTOP_SLACK_MS;
      if (job.mode === 'leetcode') {
        const body = { ...base, mode: 'leetcode', code: job.code, prompt: job.prompt, test: job.test, entryPoint: job.entryPoint, caseTimeoutMs: job.caseTimeoutMs };
        return send(body, backstop(1));
      }
      if (job.mode === 'parse') return send({ ...base, mode: 'parse', code: job.code }, backstop(1));
      const cases = job.mode === 'stdin' ? job.stdins.map((stdin) => ({ stdin })) : job.argsList.map((args) => ({ args }));
      const request = job.mode === 'stdin' ? { ...base, mode: 'script', code: job.code } : { ...base, mode: 'call', code: job.code, fnName: job.fnName };
      // Tests of one problem spread over the idle servers (each still forks one fresh process per test); with
      // stop-on-failure the cases stay in one sequence so "first failure" keeps its meaning.
      const spread = base.stopOnFailure ? 1 : Math.min(idle.length, Math.floor(cases.length / MIN_CASES_PER_SERVER));
      if (spread <= 1) return send({ ...request, cases }, backstop(cases.length));
      const size = Math.ceil(cases.length / spread);
      const chunks = Array.from({ length: spread }, (_, i) => cases.slice(i * size, (i + 1) * size)).filter((c) => c.length > 0);
      const results = await Promise.all(chunks.map((chunk) => send({ ...request, cases: chunk }, backstop(chunk.length))));
      return results.flatMap((runs, i) => {
        // A chunk whose server died answers with one sandbox_error: it stands for every case of the chunk.
        if (runs.length === 1 && chunks[i].length > 1 && runs[0].status === 'sandbox_error') return chunks[i].map(() => runs[0]);
        return runs;
      });
    },

    async openSession(): Promise<Sandbox> {
      if (closed) throw new SandboxServerError('the sandbox is closed');
      const slot = poolSize + (sessionCounter++ % 4096);
      let server: ForkServer | null = null;
      let replaced = false;
      let sessionClosed = false;
      let tail: Promise<unknown> = Promise.resolve();

      const runOnce = async (request: RunRequest): Promise<RunResult> => {
        if (sessionClosed || closed) return sandboxErrorResult('the sandbox session is closed');
        const timeoutMs = request.timeoutMs ?? limits.timeoutMs;
        const files: Record<string, string> = {};
        for (const [path, content] of Object.entries(request.files ?? {})) files[path] = toBase64(content);
        let note = '';
        try {
          if (!server || !server.alive) {
            if (server) replaced = true;
            server = await startServer(slot);
          }
          if (replaced) note = LOST_STATE_NOTE;
          replaced = false;
          const response = await server.request(
            { mode: 'session', code: request.code, echo: request.echoLastExpression ?? false, stdin: request.stdin ?? '', files, limits: wireLimits(timeoutMs, request.memoryMb ?? limits.memoryMb) },
            timeoutMs + BACKSTOP_SLACK_MS,
          );
          if (response.error) throw new SandboxServerError(`sandbox server failed: ${response.error}`);
          const { reports: _reports, ...plain } = fromWire(response.results[0]);
          return { ...plain, stderr: note + plain.stderr };
        } catch (err) {
          if (!(err instanceof SandboxServerError)) throw err;
          server?.kill();
          replaced = true;
          const { reports: _reports, ...plain } = sandboxErrorResult(err.message);
          return plain;
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
          sessions.delete(session);
          await server?.shutdown();
        },
      };
      sessions.add(session);
      return session;
    },

    async warmUp(): Promise<void> {
      await Promise.all(slots.map(() => withServer(async () => {})));
    },

    async close(): Promise<void> {
      closed = true;
      await Promise.all([...sessions].map((session) => session.close()));
      const servers = slots.filter((server): server is ForkServer => server !== null);
      slots.fill(null);
      await Promise.all(servers.map((server) => server.shutdown()));
      for (const waiter of waiters.splice(0)) waiter(-1);
    },
  };
  return sandbox;
}
