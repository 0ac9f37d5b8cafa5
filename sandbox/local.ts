// The local sandbox: a small pool of bubblewrap'd fork servers (sandbox/py/server.py, pool in pool.ts) plus
// stateful sessions (session.ts). Snippets never share a process or a /tmp: the server forks a fresh child per
// snippet and restores a clean slate after each.
import { toBase64 } from '../core/base64.ts';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { SandboxCommandOptions } from './bwrap.ts';
import { SandboxServerError } from './fork-server.ts';
import { ServerPool } from './pool.ts';
import { openLocalSession } from './session.ts';
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
  /** Attempts on a fresh server after an infrastructure failure (server died, channel broke). Default 1. */
  retries?: number;
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

// One program in four files: the child-side harness, the judge-side LeetCode steps, the stateful session, and
// the supervising server (last, it calls main()).
const SERVER_SOURCES = ['harness.py', 'leetcode.py', 'session.py', 'server.py'].map((name) => new URL(`./py/${name}`, import.meta.url));
// Slack on top of the sandbox's own time-outs before the host gives up on a server: covers fork, cleanup and
// moving big outputs, and only matters when the server itself is broken.
const BACKSTOP_SLACK_MS = 5_000;
// Below this many tests per server, splitting a problem's tests costs more in round trips than it saves.
const MIN_CASES_PER_SERVER = 4;

function filesOnWire(files: RunRequest['files']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, content] of Object.entries(files ?? {})) out[path] = toBase64(content);
  return out;
}

/** The wire body of each CaseJob mode (one process per case for stdin, call and leetcode_call). */
function jobBody(job: CaseJob): { body: Record<string, unknown>; cases: Record<string, unknown>[] } {
  switch (job.mode) {
    case 'stdin':
      return { body: { mode: 'script', code: job.code }, cases: job.stdins.map((stdin) => ({ stdin })) };
    case 'call':
      return { body: { mode: 'call', code: job.code, fnName: job.fnName }, cases: job.argsList.map((args) => ({ args })) };
    case 'leetcode_call':
      return { body: { mode: 'leetcode_call', prompt: job.prompt, setup: job.setup, code: job.code, entryPoint: job.entryPoint }, cases: job.cases.map((calls) => ({ calls })) };
    default: {
      const { mode: _mode, ...rest } = job;
      return { body: { mode: job.mode, ...rest }, cases: [{}] };
    }
  }
}

export function createLocalSandbox(options: LocalSandboxOptions = {}): LocalSandbox {
  const poolSize = Math.max(1, options.poolSize ?? Math.min(4, availableParallelism()));
  const limits: RunLimits = { ...DEFAULT_RUN_LIMITS, ...options.limits };
  const serverSource = SERVER_SOURCES.map((url) => readFileSync(url, 'utf8')).join('\n\n');
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;
  const commandFor = (slot: number): SandboxCommandOptions => ({
    python: options.python ?? '/usr/bin/python3',
    bwrap: options.bwrap ?? 'bwrap',
    setpriv: options.setpriv ?? 'setpriv',
    // Pool servers use base + slot; sessions use the uids after the pool's (so each has its own NPROC count).
    hostUid: (options.hostUidBase ?? 61_000) + slot,
    tmpfsBytes: (options.tmpfsMb ?? 64) * 1024 * 1024,
    shmBytes: (options.shmMb ?? 16) * 1024 * 1024,
    serverConfig: JSON.stringify({ preload: options.preload ?? [] }),
    serverSource,
  });
  const pool = new ServerPool({ size: poolSize, commandFor, startTimeoutMs, retries: options.retries ?? 1 });
  const sessions = new Set<Sandbox>();
  let sessionCounter = 0;
  let closed = false;

  const wireLimits = (timeoutMs: number, memoryMb: number) => ({
    timeoutMs,
    cpuSeconds: Math.ceil(timeoutMs / 1000),
    memoryBytes: memoryMb * 1024 * 1024,
    fileSizeBytes: limits.fileSizeBytes,
    processes: limits.processes,
    openFiles: limits.openFiles,
    maxOutputBytes: limits.maxOutputBytes,
  });
  const runBody = (request: RunRequest) => ({
    code: request.code,
    echo: request.echoLastExpression ?? false,
    files: filesOnWire(request.files),
    stdin: request.stdin ?? '',
    limits: wireLimits(request.timeoutMs ?? limits.timeoutMs, request.memoryMb ?? limits.memoryMb),
  });

  async function runCases(job: CaseJob, opts: CaseJobOptions): Promise<CaseRun[]> {
    const base = { limits: wireLimits(opts.timeoutMs, opts.memoryMb), stopOnFailure: opts.stopOnFailure ?? false };
    const memoryBytes = base.limits.memoryBytes;
    const backstop = (processes: number) => processes * (opts.timeoutMs + 200) + BACKSTOP_SLACK_MS;
    const { body, cases } = jobBody(job);
    const request = { ...base, ...body };
    // Tests of one problem spread over the idle servers (each still forks one fresh process per test); with
    // stop-on-failure the cases stay in one sequence so "first failure" keeps its meaning.
    const spread = base.stopOnFailure ? 1 : Math.min(pool.idleCount, Math.floor(cases.length / MIN_CASES_PER_SERVER));
    if (spread <= 1) return pool.send({ ...request, cases }, backstop(cases.length), memoryBytes);
    const size = Math.ceil(cases.length / spread);
    const chunks = Array.from({ length: spread }, (_, i) => cases.slice(i * size, (i + 1) * size)).filter((c) => c.length > 0);
    const results = await Promise.all(chunks.map((chunk) => pool.send({ ...request, cases: chunk }, backstop(chunk.length), memoryBytes)));
    return results.flat();
  }

  const sandbox: LocalSandbox = {
    backend: 'local',

    async run(request: RunRequest): Promise<RunResult> {
      const { stdin, ...body } = runBody(request);
      const [result] = await pool.send({ mode: 'script', ...body, cases: [{ stdin }] }, body.limits.timeoutMs + BACKSTOP_SLACK_MS, body.limits.memoryBytes);
      const { reports: _reports, ...plain } = result;
      return plain;
    },

    runCases,

    async openSession(): Promise<Sandbox> {
      if (closed) throw new SandboxServerError('the sandbox is closed');
      const slot = poolSize + (sessionCounter++ % 4096);
      const session = openLocalSession(
        { command: commandFor(slot), startTimeoutMs, backstopSlackMs: BACKSTOP_SLACK_MS, body: runBody, isClosed: () => closed },
        (s) => sessions.delete(s),
      );
      sessions.add(session);
      return session;
    },

    warmUp: () => pool.warmUp(),

    async close(): Promise<void> {
      closed = true;
      await Promise.all([...sessions].map((session) => session.close()));
      await pool.close();
    },
  };
  return sandbox;
}
