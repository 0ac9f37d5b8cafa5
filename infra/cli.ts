// The `agentrl` command: run, status, audit, worker, server. `run` uses a reachable Temporal server when there is
// one, and otherwise starts the embedded dev server (state kept in SQLite) and an in-process worker itself.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { RecipeError, STAGES, type Stage } from '../schemas/recipe.ts';
import type { PipelineResult, StageAudit } from '../schemas/stage.ts';
import { connectClient, defaultRunId, followRun, queryProgress, recentPollers, startRun } from './client.ts';
import { DevServer, serverReachable } from './dev-server.ts';
import { loadRecipeFile } from './recipe-file.ts';
import { formatGrpoMetrics, formatSftMetrics, grpoProgress, sftProgress } from './progress.ts';
import type { createWorker as CreateWorker } from './worker.ts';
import { DEFAULT_ADDRESS, NAMESPACE, TASK_QUEUE } from './settings.ts';

const USAGE = `usage:
  agentrl run <recipe.yaml|json> [--until ${STAGES.join('|')}] [--run-id ID] [--address HOST:PORT] [--no-worker]
  agentrl status <run-id> [--address HOST:PORT]
  agentrl audit <run-id> [--stage ${STAGES.join('|')}] [--address HOST:PORT]
  agentrl report <run-id> [--output-dir runs]
  agentrl worker [--address HOST:PORT] [--task-queue NAME[,NAME...]]   (repeatable; default: the one default queue)
  agentrl trajectories <run-id> --step N [--validation] [--output-dir DIR]
  agentrl server [--port 7233] [--ui-port 8233] [--headless]`;

const DEFAULT_PORT = 7233;

interface Embedded {
  address: string;
  server?: DevServer;
  uiUrl?: string;
}

/** Uses the server at --address / TEMPORAL_ADDRESS / 127.0.0.1:7233, or starts the embedded one on that port. */
async function ensureServer(address: string | undefined): Promise<Embedded> {
  const target = address ?? DEFAULT_ADDRESS;
  if (await serverReachable(target)) return { address: target, uiUrl: address ? undefined : 'http://127.0.0.1:8233' };
  if (address) throw new Error(`no Temporal server answers at ${address}`);
  const port = Number(target.split(':').pop()) || DEFAULT_PORT;
  const server = new DevServer({ port, uiPort: port + 1000 });
  console.error(`[agentrl] starting the embedded Temporal dev server (state: ${server.dbFile})`);
  await server.start();
  return { address: server.address, server, uiUrl: server.uiUrl };
}

function uiLink(uiUrl: string | undefined, workflowId: string): string {
  return uiUrl ? `${uiUrl}/namespaces/${NAMESPACE}/workflows/${encodeURIComponent(workflowId)}` : '(Web UI: run `agentrl server`)';
}

async function cmdRun(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { until: { type: 'string' }, 'run-id': { type: 'string' }, 'output-dir': { type: 'string' }, address: { type: 'string' }, 'no-worker': { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('run takes one recipe file');
  if (values.until && !STAGES.includes(values.until as Stage)) throw new UsageError(`--until must be one of ${STAGES.join(', ')}`);
  const outputDir = values['output-dir'] ? resolve(values['output-dir']) : undefined; // relative to where the command runs
  const recipe = loadRecipeFile(positionals[0], { until: values.until as Stage | undefined, run_id: values['run-id'], output_dir: outputDir });
  const runId = recipe.run_id ?? defaultRunId(recipe);
  recipe.run_id = runId;

  const env = await ensureServer(values.address);
  const client = await connectClient(env.address);
  let inProcess: Awaited<ReturnType<typeof CreateWorker>> | undefined;
  try {
    // A worker runs in this process unless told otherwise: whether another worker is alive cannot be read from
    // the server (it lists pollers for minutes after they exit), and a run with no live worker would hang.
    if (values['no-worker']) {
      const pollers = await recentPollers(client);
      if (!pollers.length) console.error(`[agentrl] --no-worker: no worker has polled task queue "${TASK_QUEUE}" recently; the run waits until one does`);
    } else {
      console.error('[agentrl] starting a worker in this process (--no-worker leaves the run to other workers)');
      const { createWorker } = await import('./worker.ts');
      inProcess = await createWorker({ address: env.address });
    }
    const { handle, attached } = await startRun(client, recipe, runId);
    console.log(`${attached ? 'attached to' : 'started'} run ${runId}`);
    console.log(`  Web UI: ${uiLink(env.uiUrl, runId)}`);
    const follow = followRun(client, handle);
    const result = inProcess ? await inProcess.worker.runUntil(follow) : await follow;
    printResult(result);
    return 0;
  } catch (err) {
    console.error(`run ${runId} failed: ${failureMessage(err)}`);
    return 1;
  } finally {
    await client.connection.close();
    await inProcess?.connection.close();
    if (env.server) {
      await env.server.stop();
      console.log('The run\'s history stays in the embedded server\'s state; `agentrl server` serves the Web UI.');
    }
  }
}

function printResult(result: PipelineResult): void {
  printBalance(result);
  printSft(result);
  const g = result.stages.grpo;
  if (g) {
    console.log(`grpo: ${g.steps} RL steps -> checkpoint ${g.checkpoint.path}`);
    if (g.last) console.log(`  last step: ${formatGrpoMetrics(g.last)}`);
    if (g.metrics) console.log(`  metrics: ${g.metrics.path}`);
  }
  if (result.report) console.log(`report: ${result.report}`);
}

function printSft(result: PipelineResult): void {
  const s = result.stages.sft;
  if (!s) return;
  console.log(`sft: ${s.counts.accepted} conversations trained (${s.counts.rejected} rejected), ${s.counts.steps} steps -> ${s.model.dir}`);
  console.log(`  model digest ${s.modelDigest}`);
  if (s.last) console.log(`  last step: ${formatSftMetrics(s.last)}`);
  console.log(`  metrics: ${s.metrics.path}`);
  console.log(`  rejects: ${s.rejects.rows} rows -> ${s.rejects.path}`);
  console.log(`  audit:   ${s.audit.path}`);
}

function printBalance(result: PipelineResult): void {
  const b = result.stages.balance;
  if (!b) return;
  console.log(`balance: ${b.rlParquet.rows} rows -> ${b.rlParquet.path}`);
  console.log(`  sha256 ${b.rlParquet.sha256}`);
  console.log(`  rejects: ${b.rejects.rows} rows -> ${b.rejects.path}`);
  console.log(`  audit:   ${b.audit.path}`);
  for (const [name, c] of Object.entries(b.counts)) {
    const rejected = Object.values(c.rejected).reduce((x, y) => x + y, 0);
    console.log(`  ${name.padEnd(14)} read ${c.read}, rejected ${rejected}, duplicates ${c.duplicateWithin + c.duplicateAcross}, eligible ${c.eligible}, sampled ${c.sampled}`);
  }
}

/** The deepest cause's message: Temporal wraps an activity's error in several layers. */
function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  const messages: string[] = [];
  while (e) {
    if (e.message) messages.push(e.message);
    e = e.cause as typeof e;
  }
  return messages.at(-1) ?? String(err);
}

async function withClient<T>(address: string | undefined, work: (client: Client) => Promise<T>): Promise<T> {
  const env = await ensureServer(address);
  const client = await connectClient(env.address);
  try {
    return await work(client);
  } finally {
    await client.connection.close();
    await env.server?.stop();
  }
}

async function cmdStatus(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { address: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('status takes a run id');
  const runId = positionals[0];
  return withClient(values.address, async (client) => {
    const handle = client.workflow.getHandle(runId);
    const d = await handle.describe();
    console.log(`run ${d.workflowId}: ${d.status.name}`);
    console.log(`  started ${d.startTime.toISOString()}${d.closeTime ? `, closed ${d.closeTime.toISOString()}` : ''}`);
    const memo = d.memo ?? {};
    if (d.status.name === 'RUNNING') {
      const p = await queryProgress(handle);
      if (p) console.log(`  stage ${p.stage} (${p.step}); done: ${p.done.join(', ') || 'none'}`);
    }
    const child = await client.workflow.getHandle(`${runId}.balance`).describe().catch(() => undefined);
    const balanceMemo = (child?.memo ?? memo).balance as Record<string, unknown> | undefined;
    if (balanceMemo) console.log(`  balance: ${JSON.stringify(balanceMemo)}`);
    await printSftStatus(client, runId);
    await printGrpoStatus(client, runId);
    if (d.status.name === 'FAILED') {
      await handle.result().catch((err) => console.log(`  failure: ${failureMessage(err)}`));
    }
    return d.status.name === 'FAILED' ? 1 : 0;
  });
}

async function printSftStatus(client: Client, runId: string): Promise<void> {
  const s = await sftProgress(client, runId);
  if (!s) return;
  console.log(`  sft: ${s.state}, step ${s.step}${s.steps ? `/${s.steps}` : ''}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`);
  if (s.last) console.log(`    latest: ${formatSftMetrics(s.last)}`);
  if (s.checkpoint) console.log(`    last checkpoint: ${s.checkpoint}`);
  if (s.model) console.log(`    model: ${s.model}`);
  if (s.audit) console.log(`    audit: ${s.audit}`);
}

async function printGrpoStatus(client: Client, runId: string): Promise<void> {
  const g = await grpoProgress(client, runId);
  if (!g) return;
  console.log(`  grpo: ${g.state}, RL step ${g.step}/${g.totalSteps}`);
  if (g.metrics) console.log(`    latest: ${formatGrpoMetrics(g.metrics)}`);
  if (g.checkpoint) console.log(`    checkpoint: ${g.checkpoint}`);
  if (g.audit) console.log(`    audit: ${g.audit}`);
}

async function cmdAudit(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { address: { type: 'string' }, stage: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('audit takes a run id');
  if (values.stage && !STAGES.includes(values.stage as Stage)) throw new UsageError(`--stage must be one of ${STAGES.join(', ')}`);
  const runId = positionals[0];
  return withClient(values.address, async (client) => {
    // Without --stage: the last stage that has an audit record. A stage started alone is the run itself.
    const stages = values.stage ? [values.stage] : [...STAGES].reverse();
    for (const stage of stages) {
      for (const id of [`${runId}.${stage}`, runId]) {
        const d = await client.workflow.getHandle(id).describe().catch(() => undefined);
        const memo = d?.memo?.[stage] as { audit?: string } | undefined;
        if (!memo?.audit) continue;
        const audit = JSON.parse(readFileSync(memo.audit, 'utf8')) as StageAudit<unknown>;
        console.log(JSON.stringify(audit, null, 2));
        return 0;
      }
    }
    console.error(`run ${runId} has no finished ${values.stage ? `${values.stage} stage` : 'stage'} with an audit record yet`);
    return 1;
  });
}

/** Writes <output-dir>/<run-id>/report.html from the run's files alone: no server is needed. */
async function cmdReport(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { 'output-dir': { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('report takes a run id');
  const { writeRunReport } = await import('../report/index.ts');
  const report = await writeRunReport(resolve(values['output-dir'] ?? 'runs', positionals[0]));
  console.log(report.path);
  return 0;
}

async function cmdWorker(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { address: { type: 'string' }, 'task-queue': { type: 'string', multiple: true } } });
  // The queues this worker serves (GRPO rollouts and the learner can be routed to queues of their own); with none
  // named, the default queue, which every step uses unless a recipe routes it elsewhere.
  const queues = [...new Set((values['task-queue'] ?? [TASK_QUEUE]).flatMap((q) => q.split(',')).map((q) => q.trim()).filter(Boolean))];
  const { runWorker, runWorkers } = await import('./worker.ts');
  if (queues.length === 1) await runWorker({ address: values.address ?? DEFAULT_ADDRESS, taskQueue: queues[0] });
  else await runWorkers({ address: values.address ?? DEFAULT_ADDRESS, taskQueues: queues });
  return 0;
}

async function cmdTrajectories(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { step: { type: 'string' }, validation: { type: 'boolean' }, 'output-dir': { type: 'string' } } });
  if (positionals.length !== 1 || values.step === undefined || !/^\d+$/.test(values.step)) throw new UsageError('trajectories takes a run id and --step N');
  const { printTrajectories } = await import('./trajectories.ts');
  return printTrajectories({ runId: positionals[0], step: Number(values.step), validation: Boolean(values.validation), outputDir: values['output-dir'] ?? 'runs' });
}

async function cmdServer(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string' }, 'ui-port': { type: 'string' }, headless: { type: 'boolean' } } });
  const port = Number(values.port ?? DEFAULT_PORT);
  const server = new DevServer({ port, uiPort: Number(values['ui-port'] ?? port + 1000), headless: values.headless });
  await server.start();
  console.log(`Temporal dev server at ${server.address} (state: ${server.dbFile})`);
  if (server.uiUrl) console.log(`Web UI: ${server.uiUrl}`);
  console.log('Ctrl-C stops it; the state stays.');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.stop();
  return 0;
}

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const commands: Record<string, (a: string[]) => Promise<number>> = {
    run: cmdRun, status: cmdStatus, audit: cmdAudit, report: cmdReport, worker: cmdWorker, server: cmdServer, trajectories: cmdTrajectories,
  };
  const fn = command ? commands[command] : undefined;
  if (!fn) {
    console.error(USAGE);
    return command === '--help' || command === '-h' ? 0 : 2;
  }
  try {
    return await fn(rest);
  } catch (err) {
    if (err instanceof RecipeError) {
      console.error(err.message);
      return 2;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    console.error(`agentrl ${command}: ${failureMessage(err)}`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
