// One sandboxed fork server: a bubblewrap'd python3 (PID 1 of its namespace) that forks a fresh child per
// snippet. This class owns the process, the length-prefixed JSON framing on its stdin/stdout, and the backstop
// time-out: if the server ever fails to answer in time, its whole process group is killed and the caller gets a
// clear error (the pool then starts a fresh server).
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { sandboxCommand } from './bwrap.ts';
import type { SandboxCommandOptions } from './bwrap.ts';
import type { MemoryCgroup } from './cgroup.ts';

export class SandboxServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxServerError';
  }
}

interface Pending {
  resolve: (value: any) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const STDERR_KEEP = 8192;

export class ForkServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private pending: Pending | null = null;
  private stderrTail = '';
  private exited = false;
  /** Set when the server was killed or announced it will exit: never hand it out again. */
  private dying = false;
  readonly ready: Promise<{ pid: number; preloaded: string[]; preloadFailed: string[] }>;

  private constructor(opts: SandboxCommandOptions, startTimeoutMs: number, readonly cgroup: MemoryCgroup | null) {
    const [command, ...args] = cgroup ? cgroup.wrap(sandboxCommand(opts)) : sandboxCommand(opts);
    // detached: a process group of its own, so a kill reaches setpriv, bwrap and everything inside.
    // Only PATH (to find setpriv/bwrap); the sandbox itself starts from bwrap's --clearenv.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env });
    this.child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    // A dead server must never crash the host process: EPIPE on stdin is reported through the pending request.
    this.child.stdin.on('error', () => {});
    this.child.on('error', (err) => this.fail(`could not start the sandbox (${err.message})`));
    this.child.on('exit', (code, signal) => {
      this.exited = true;
      this.cgroup?.remove();
      this.fail(`sandbox server exited (code ${code}, signal ${signal})${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`);
    });
    this.ready = this.waitFrame(startTimeoutMs, 'start').then((frame) => {
      if (!frame?.ready) throw new SandboxServerError(`sandbox server sent an unexpected first frame`);
      return frame;
    });
    // Failures are surfaced to whoever awaits `ready`; this keeps an unobserved rejection from killing the host.
    this.ready.catch(() => {});
  }

  static async start(opts: SandboxCommandOptions, startTimeoutMs: number, cgroup: MemoryCgroup | null = null): Promise<ForkServer> {
    const server = new ForkServer(opts, startTimeoutMs, cgroup);
    try {
      await server.ready;
    } catch (err) {
      server.kill();
      throw err;
    }
    return server;
  }

  get alive(): boolean {
    return !this.exited && !this.dying;
  }

  /** The host pid of the launcher (setpriv or bwrap); its process group holds the whole sandbox. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Send one request and wait for its response frame; on time-out the server is killed. */
  request(body: unknown, timeoutMs: number): Promise<any> {
    if (!this.alive) return Promise.reject(new SandboxServerError('sandbox server is not running'));
    if (this.pending) return Promise.reject(new SandboxServerError('sandbox server is busy'));
    const payload = Buffer.from(JSON.stringify(body), 'utf8');
    const header = Buffer.alloc(4);
    header.writeUInt32BE(payload.length, 0);
    const response = this.waitFrame(timeoutMs, 'request');
    this.child.stdin.write(Buffer.concat([header, payload]));
    return response;
  }

  /**
   * Close stdin so the server leaves its loop and exits as PID 1, letting bubblewrap reap it (a SIGKILL'd bwrap
   * would orphan it to the host's init); kill the group if it does not exit in time.
   */
  async shutdown(graceMs = 1000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.dying = true;
    if (this.child.pid !== undefined && !this.exited) {
      try {
        process.kill(-this.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  private waitFrame(timeoutMs: number, what: string): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`sandbox server did not answer the ${what} within ${timeoutMs} ms; killed`);
        this.kill();
      }, timeoutMs);
      this.pending = { resolve, reject, timer };
    });
  }

  private fail(message: string): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    clearTimeout(pending.timer);
    pending.reject(new SandboxServerError(message));
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 4) {
      if (this.chunks[0].length < 4) this.chunks = [Buffer.concat(this.chunks)];
      const length = this.chunks[0].readUInt32BE(0);
      // Join chunks only once the whole frame is here: outputs can be tens of MB.
      if (this.buffered < 4 + length) return;
      const head = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
      const frame = head.subarray(4, 4 + length);
      const rest = head.subarray(4 + length);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
      const pending = this.pending;
      this.pending = null;
      if (!pending) continue;
      clearTimeout(pending.timer);
      let body: any;
      try {
        body = JSON.parse(frame.toString('utf8'));
      } catch (err) {
        this.kill();
        pending.reject(new SandboxServerError(`unreadable frame from sandbox server: ${(err as Error).message}`));
        continue;
      }
      // A server that could not restore a clean slate answers and then exits: it is never used again.
      if (body?.retire) this.dying = true;
      pending.resolve(body);
    }
  }
}
