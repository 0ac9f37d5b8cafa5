// The worker: polls the task queue, runs workflow code in Temporal's sandbox and activities on this process
// (CPU-heavy activity work goes to worker threads inside the activities). The workflow bundle is cached by a hash
// of its sources, so starting a worker does not re-run webpack each time.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, makeTelemetryFilterString } from '@temporalio/worker';
import * as registry from '../activities/index.ts';
import { closeRolloutResources } from '../activities/grpo-resources.ts';
import { PROJECT_ROOT, stateDir } from './paths.ts';
import { DEFAULT_ADDRESS, NAMESPACE, TASK_QUEUE } from './settings.ts';

export interface WorkerOptions {
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

let runtimeInstalled = false;

/** Quiet core logs (warnings and errors only) unless AGENTRL_LOG_LEVEL asks for more. */
function installRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const level = (process.env.AGENTRL_LOG_LEVEL ?? 'WARN').toUpperCase() as 'WARN';
  Runtime.install({
    logger: new (class {
      log(l: string, message: string, meta?: Record<string, unknown>) {
        if (rank(l) >= rank(level)) console.error(`[worker ${l.toLowerCase()}] ${message}${meta ? ' ' + JSON.stringify(meta) : ''}`);
      }
      trace(m: string, meta?: Record<string, unknown>) { this.log('TRACE', m, meta); }
      debug(m: string, meta?: Record<string, unknown>) { this.log('DEBUG', m, meta); }
      info(m: string, meta?: Record<string, unknown>) { this.log('INFO', m, meta); }
      warn(m: string, meta?: Record<string, unknown>) { this.log('WARN', m, meta); }
      error(m: string, meta?: Record<string, unknown>) { this.log('ERROR', m, meta); }
    })(),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: level }), forward: {} } },
  });
}

function rank(level: string): number {
  return ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].indexOf(level.toUpperCase());
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
    .sort();
}

/** Bundles workflows/ once per distinct source (and SDK version), caching the bundle under the state dir. */
export async function workflowBundle(): Promise<{ code: string }> {
  const hash = createHash('sha256');
  const sdk = JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules/@temporalio/workflow/package.json'), 'utf8')).version;
  hash.update(sdk);
  for (const file of [...sourceFiles(join(PROJECT_ROOT, 'workflows')), ...sourceFiles(join(PROJECT_ROOT, 'schemas'))]) {
    hash.update(file).update(readFileSync(file));
  }
  const dir = join(stateDir(), 'bundles');
  const path = join(dir, `workflows-${hash.digest('hex').slice(0, 16)}.js`);
  if (existsSync(path)) return { code: readFileSync(path, 'utf8') };
  const bundle = await bundleWorkflowCode({ workflowsPath: join(PROJECT_ROOT, 'workflows/index.ts'), logger: quietBundlerLogger });
  mkdirSync(dir, { recursive: true });
  writeFileSync(path, bundle.code);
  return bundle;
}

const quietBundlerLogger = {
  log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined,
  warn: (m: string) => console.error(`[bundler] ${m}`), error: (m: string) => console.error(`[bundler] ${m}`),
};

/**
 * The activities with their dependencies (Temporal's activities-dependency-injection pattern): one model cache
 * per worker, so a training stage's model stays loaded between its activities.
 */
export function workerActivities(): { activities: Record<string, (...args: any[]) => Promise<unknown>>; models: registry.ModelCache } {
  const { createSftActivities, ModelCache, ...plain } = registry;
  const models = new ModelCache();
  return { activities: { ...plain, ...createSftActivities({ models }) }, models };
}

export async function createWorker(opts: WorkerOptions = {}): Promise<{ worker: Worker; connection: NativeConnection }> {
  installRuntime();
  const { activities, models } = workerActivities();
  const connection = await NativeConnection.connect({ address: opts.address ?? DEFAULT_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace ?? NAMESPACE,
    taskQueue: opts.taskQueue ?? TASK_QUEUE,
    workflowBundle: await workflowBundle(),
    activities,
    // Give running activities a moment to record a last heartbeat on SIGTERM instead of cancelling at once.
    shutdownGraceTime: '10 seconds',
  });
  // The held model, samplers and sandbox servers go with the worker (their device threads and child processes
  // would otherwise keep the process alive).
  const run = worker.run.bind(worker);
  worker.run = async () => {
    try {
      await run();
    } finally {
      await models.drop();
      await closeRolloutResources();
    }
  };
  return { worker, connection };
}

/** `agentrl worker`: run until SIGINT/SIGTERM (the SDK installs those handlers). */
export async function runWorker(opts: WorkerOptions = {}): Promise<void> {
  const { worker, connection } = await createWorker(opts);
  console.error(`[agentrl] worker polling task queue "${opts.taskQueue ?? TASK_QUEUE}" at ${opts.address ?? DEFAULT_ADDRESS}`);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

/** `agentrl worker --task-queue a,b`: one worker per queue in this process, sharing one connection. */
export async function runWorkers(opts: { address?: string; namespace?: string; taskQueues: string[] }): Promise<void> {
  installRuntime();
  const { activities, models } = workerActivities();
  const connection = await NativeConnection.connect({ address: opts.address ?? DEFAULT_ADDRESS });
  try {
    const bundle = await workflowBundle();
    const workers = await Promise.all(
      opts.taskQueues.map((taskQueue) =>
        Worker.create({ connection, namespace: opts.namespace ?? NAMESPACE, taskQueue, workflowBundle: bundle, activities, shutdownGraceTime: '10 seconds' }),
      ),
    );
    console.error(`[agentrl] worker polling task queues ${opts.taskQueues.map((q) => `"${q}"`).join(', ')} at ${opts.address ?? DEFAULT_ADDRESS}`);
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    await models.drop();
    await closeRolloutResources();
    await connection.close();
  }
}
