// Starting and following runs. A run's id is its workflow id; starting an id that is already running attaches to
// it instead of failing, so re-running the same command after a crash of the CLI resumes watching the same run.
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { type Recipe, stagesToRun } from '../schemas/recipe.ts';
import { runSummary } from '../workflows/details.ts';
import type { PipelineResult, RunProgress } from '../schemas/stage.ts';
import { progressLine } from './progress.ts';
import { NAMESPACE, TASK_QUEUE } from './settings.ts';

export async function connectClient(address: string, namespace = NAMESPACE): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace });
}

export function defaultRunId(recipe: Recipe, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${recipe.name.replace(/[^A-Za-z0-9._-]/g, '-')}-${stamp}`;
}

export async function startRun(
  client: Client,
  recipe: Recipe,
  runId: string,
  taskQueue = TASK_QUEUE,
): Promise<{ handle: WorkflowHandle; attached: boolean }> {
  try {
    const handle = await client.workflow.start('pipelineWorkflow', {
      taskQueue,
      workflowId: runId,
      args: [recipe],
      staticSummary: runSummary(recipe.name, stagesToRun(recipe)),
    });
    return { handle, attached: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { handle: client.workflow.getHandle(runId), attached: true };
    throw err;
  }
}

/**
 * The identities of the workers that polled the task queue. The server keeps a poller in this list for minutes
 * after its last poll, so a worker that has exited (the in-process worker of a finished `agentrl run`) still
 * appears: this says who was there, not who is alive, and the CLI does not decide on it whether to run a worker.
 */
export async function recentPollers(client: Client, taskQueue = TASK_QUEUE): Promise<{ identity: string; secondsAgo: number }[]> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // workflow task queue
  });
  const now = Date.now();
  return (res.pollers ?? []).map((p) => {
    const t = p.lastAccessTime;
    const ms = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : now;
    return { identity: p.identity ?? '?', secondsAgo: Math.max(0, Math.round((now - ms) / 1000)) };
  });
}

export interface FollowOptions {
  intervalMs?: number;
  onLine?: (line: string) => void;
  /** After this long without a worker taking the run's next task, say what the run waits for (default 5 s). */
  waitNoticeMs?: number;
  taskQueue?: string;
  /** How often to print the training stage's progress (step, loss or reward) when it changed (default 10 s). */
  progressEveryMs?: number;
}

/**
 * Prints what the run is doing whenever it changes (its steps; the training stage's step and metrics at most every
 * 10 s), until it closes; returns the result or throws its failure.
 * It never waits silently: when a task of the run has sat unclaimed for `waitNoticeMs`, it says which task waits
 * for a worker on which queue (and again every 30 s while it waits).
 */
export async function followRun(client: Client, handle: WorkflowHandle, opts: FollowOptions = {}): Promise<PipelineResult> {
  const say = opts.onLine ?? ((l: string) => console.log(l));
  const noticeMs = opts.waitNoticeMs ?? 5_000;
  const taskQueue = opts.taskQueue ?? TASK_QUEUE;
  let last = '';
  let lastProgress = '';
  let progressAt = 0;
  let waitingSince: number | undefined;
  let noticed = 0;
  const result = handle.result() as Promise<PipelineResult>;
  let closed = false;
  result.then(() => (closed = true), () => (closed = true));
  while (!closed) {
    const state = await describeRun(client, handle.workflowId).catch(() => ({ running: '', unclaimed: [] as string[] }));
    if (state.running && state.running !== last) {
      say(state.running);
      last = state.running;
    }
    if (Date.now() - progressAt >= (opts.progressEveryMs ?? 10_000)) {
      progressAt = Date.now();
      const line = await progressLine(client, handle.workflowId).catch(() => '');
      if (line && line !== lastProgress) say(line);
      lastProgress = line || lastProgress;
    }
    if (state.unclaimed.length === 0) waitingSince = undefined;
    else {
      waitingSince ??= Date.now();
      const waited = Date.now() - waitingSince;
      if (waited >= noticeMs && Date.now() - noticed >= 30_000) {
        noticed = Date.now();
        const pollers = await recentPollers(client, taskQueue).catch(() => []);
        const seen = pollers.length ? `workers seen on it: ${pollers.map((p) => `${p.identity} (polled ${p.secondsAgo}s ago)`).join(', ')}` : 'no worker has polled it recently';
        say(`  waiting ${Math.round(waited / 1000)}s for a worker on task queue "${taskQueue}" to take ${state.unclaimed.join(', ')}; ${seen}`);
      }
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000))]);
  }
  return result;
}

// PendingWorkflowTaskInfo / PendingActivityInfo state 1: scheduled, no worker has taken it yet.
const SCHEDULED = 1;

/**
 * The run's stages (children included): one line on their pending steps, and the tasks that no worker has
 * taken yet (a workflow task or an activity in state SCHEDULED; activities waiting out a retry back-off are not).
 */
async function describeRun(client: Client, workflowId: string): Promise<{ running: string; unclaimed: string[] }> {
  const parts: string[] = [];
  const unclaimed: string[] = [];
  // The GRPO stage's steps change every few seconds: its progress line says where it is instead.
  for (const id of [workflowId, `${workflowId}.balance`, `${workflowId}.sft`]) {
    const d = await client.workflowService
      .describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId: id } })
      .catch(() => undefined);
    if (!d) continue;
    if (d.pendingWorkflowTask?.state === SCHEDULED) unclaimed.push(`the workflow task of ${id}`);
    for (const a of d.pendingActivities ?? []) {
      const attempt = (a.attempt ?? 1) > 1 ? ` (attempt ${a.attempt})` : '';
      parts.push(`${a.activityType?.name}${attempt}`);
      const backingOff = a.nextAttemptScheduleTime && Number(a.nextAttemptScheduleTime.seconds ?? 0) * 1000 > Date.now();
      if (a.state === SCHEDULED && !backingOff) unclaimed.push(`step ${a.activityType?.name} of ${id}`);
    }
  }
  return { running: parts.length ? `  running: ${parts.join(', ')}` : '', unclaimed };
}

export async function queryProgress(handle: WorkflowHandle): Promise<RunProgress | undefined> {
  try {
    return await handle.query<RunProgress>('progress');
  } catch {
    return undefined;
  }
}
