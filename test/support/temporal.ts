// A real Temporal dev server per test file (temporary SQLite state, free ports, headless), plus helpers to run
// workers in this process or as killable child processes. Nothing here is mocked.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { type DevServer, startDevServer } from '../../infra/dev-server.ts';
import { createWorker } from '../../infra/worker.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

export interface TestServer {
  server: DevServer;
  client: Client;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-temporal-'));
  const server = await startDevServer({ dir, headless: true });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  return {
    server,
    client,
    async close() {
      await connection.close();
      await server.stop();
    },
  };
}

export function uniqueQueue(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** A worker in its own process, as in production: `agentrl worker`, so SIGKILL is a real crash. */
export function spawnWorkerProcess(address: string, taskQueue: string): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'infra/cli.ts'), 'worker', '--address', address, '--task-queue', taskQueue], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, AGENTRL_TASK_QUEUE: taskQueue },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return Object.assign(child, { output: () => out });
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Names of the activities currently pending in a workflow execution. */
export async function pendingActivities(client: Client, workflowId: string): Promise<{ name: string; attempt: number; started: boolean; heartbeat: boolean }[]> {
  const d = await client.workflowService.describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId } });
  return (d.pendingActivities ?? []).map((a) => ({
    name: a.activityType?.name ?? '',
    attempt: a.attempt ?? 1,
    // PENDING_ACTIVITY_STATE_STARTED: a worker has picked the task up and is executing it.
    started: a.state === 2,
    heartbeat: (a.heartbeatDetails?.payloads?.length ?? 0) > 0,
  }));
}

/** A worker running in this process until `stop()`: the quickest way to execute workflows in a test. */
export async function startInProcessWorker(address: string, taskQueue: string): Promise<{ stop(): Promise<void> }> {
  const { worker, connection } = await createWorker({ address, taskQueue });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
      await connection.close();
    },
  };
}

/**
 * Worker processes a crash test spawns and kills: `spawn` starts `agentrl worker` on a queue and remembers it,
 * `killAll` (in the file's `after`) makes sure none outlives the test.
 */
export function workerProcesses(address: () => string): { spawn(queue: string): ReturnType<typeof spawnWorkerProcess>; killAll(): Promise<void> } {
  const spawned: ReturnType<typeof spawnWorkerProcess>[] = [];
  return {
    spawn(queue) {
      const w = spawnWorkerProcess(address(), queue);
      spawned.push(w);
      return w;
    },
    async killAll() {
      for (const w of spawned) await killHard(w);
    },
  };
}
