// The embedded Temporal server: the CLI's dev server with a SQLite file under the state directory, so stopping
// and restarting it loses nothing. After it answers, the namespace is given a long retention and the project's
// search attributes are registered; both steps are idempotent because an existing db file ignores start flags.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { findTemporalCli } from './temporal-cli.ts';
import { stateDir } from './paths.ts';
import { NAMESPACE, RETENTION_DAYS, SEARCH_ATTRIBUTES } from './settings.ts';

export interface DevServerOptions {
  port?: number;
  uiPort?: number;
  /** Directory for temporal.db and the server log; defaults to the project's state directory. */
  dir?: string;
  headless?: boolean;
  namespace?: string;
}

export class DevServer {
  private child?: ChildProcess;
  readonly port: number;
  readonly uiPort: number;
  readonly dir: string;
  readonly namespace: string;
  private readonly headless: boolean;

  constructor(opts: DevServerOptions & { port: number; uiPort: number }) {
    this.port = opts.port;
    this.uiPort = opts.uiPort;
    this.dir = opts.dir ?? stateDir();
    this.headless = opts.headless ?? false;
    this.namespace = opts.namespace ?? NAMESPACE;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get uiUrl(): string | undefined {
    return this.headless ? undefined : `http://127.0.0.1:${this.uiPort}`;
  }

  get dbFile(): string {
    return join(this.dir, 'temporal.db');
  }

  get logFile(): string {
    return join(this.dir, 'temporal-server.log');
  }

  /** Starts the server process and waits until it answers, then applies retention and search attributes. */
  async start(timeoutMs = 60_000): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const args = ['server', 'start-dev', '--db-filename', this.dbFile, '--ip', '127.0.0.1', '--port', String(this.port),
      '--namespace', this.namespace, '--log-level', 'warn'];
    if (this.headless) args.push('--headless');
    else args.push('--ui-port', String(this.uiPort), '--ui-ip', '127.0.0.1');
    const log = openSync(this.logFile, 'a');
    this.child = spawn(findTemporalCli(), args, { stdio: ['ignore', log, log], detached: false });
    const exited = new Promise<never>((_, reject) => {
      this.child!.once('exit', (code, signal) =>
        reject(new Error(`temporal dev server exited during start (code ${code}, signal ${signal}); see ${this.logFile}`)));
    });
    exited.catch(() => undefined);
    await Promise.race([waitForServer(this.address, timeoutMs), exited]);
    await configureNamespace(this.address, this.namespace);
  }

  /** Stops the server; `hard` simulates a crash (SIGKILL) instead of a clean shutdown. */
  async stop(hard = false): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await done;
    clearTimeout(timer);
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** A dev server on free ports (tests, and the CLI when nothing listens on the default port). */
export async function startDevServer(opts: DevServerOptions = {}): Promise<DevServer> {
  const server = new DevServer({ ...opts, port: opts.port ?? (await freePort()), uiPort: opts.uiPort ?? (await freePort()) });
  await server.start();
  return server;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** True when a Temporal frontend answers at `address` within `timeoutMs`. */
export async function serverReachable(address: string, timeoutMs = 2_000): Promise<boolean> {
  try {
    const conn = await Connection.connect({ address, connectTimeout: timeoutMs });
    try {
      await conn.workflowService.getSystemInfo({});
      return true;
    } finally {
      await conn.close();
    }
  } catch {
    return false;
  }
}

async function waitForServer(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await serverReachable(address, 1_000)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`temporal dev server at ${address} did not answer within ${timeoutMs} ms`);
}

/** Long retention for auditing, and the search attributes the workflows upsert. Safe to call repeatedly. */
export async function configureNamespace(address: string, namespace: string): Promise<void> {
  const conn = await Connection.connect({ address });
  try {
    await runCli(['operator', 'namespace', 'update', '--address', address, '--namespace', namespace,
      '--retention', `${RETENTION_DAYS * 24}h`]);
    const existing = await conn.operatorService.listSearchAttributes({ namespace });
    const types = proto.temporal.api.enums.v1.IndexedValueType;
    const missing: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {};
    for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) {
      if (existing.customAttributes?.[name] === undefined) {
        missing[name] = types[`INDEXED_VALUE_TYPE_${type.toUpperCase()}` as 'INDEXED_VALUE_TYPE_KEYWORD'];
      }
    }
    if (Object.keys(missing).length > 0) {
      await conn.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
    }
  } finally {
    await conn.close();
  }
}

async function runCli(args: string[]): Promise<void> {
  try {
    await promisify(execFile)(findTemporalCli(), args, { timeout: 30_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`temporal ${args.slice(0, 3).join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}
