// Starting and following runs. A run's id is its workflow id; starting an id that is already running attaches to
// it instead of failing, so re-running the same command after a crash of the CLI resumes watching the same run.
import { Client, Connection, WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import type { Recipe } from '../schemas/recipe.ts';
import type { PipelineResult, RunProgress } from '../schemas/stage.ts';
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
      staticSummary: `agentrl ${recipe.name}: ${recipe.until === 'balance' ? 'balance' : `balance -> ${recipe.until}`}`,
    });
    return { handle, attached: false };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { handle: client.workflow.getHandle(runId), attached: true };
    throw err;
  }
}

/** True when some worker has polled the task queue recently. */
export async function hasWorkers(client: Client, taskQueue = TASK_QUEUE): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // workflow task queue
  });
  return (res.pollers?.length ?? 0) > 0;
}

export interface FollowOptions {
  intervalMs?: number;
  onLine?: (line: string) => void;
}

/** Prints what the run is doing whenever it changes, until it closes; returns the result or throws its failure. */
export async function followRun(client: Client, handle: WorkflowHandle, opts: FollowOptions = {}): Promise<PipelineResult> {
  const say = opts.onLine ?? ((l: string) => console.log(l));
  let last = '';
  const result = handle.result() as Promise<PipelineResult>;
  let closed = false;
  result.then(() => (closed = true), () => (closed = true));
  while (!closed) {
    const line = await describeActivity(client, handle.workflowId).catch(() => '');
    if (line && line !== last) {
      say(line);
      last = line;
    }
    await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000))]);
  }
  return result;
}

/** One line on the pending steps of the run's stages (children included), with their last heartbeat. */
async function describeActivity(client: Client, workflowId: string): Promise<string> {
  const parts: string[] = [];
  for (const id of [workflowId, `${workflowId}.balance`]) {
    const d = await client.workflowService
      .describeWorkflowExecution({ namespace: client.options.namespace, execution: { workflowId: id } })
      .catch(() => undefined);
    for (const a of d?.pendingActivities ?? []) {
      const attempt = (a.attempt ?? 1) > 1 ? ` (attempt ${a.attempt})` : '';
      parts.push(`${a.activityType?.name}${attempt}`);
    }
  }
  return parts.length ? `  running: ${parts.join(', ')}` : '';
}

export async function queryProgress(handle: WorkflowHandle): Promise<RunProgress | undefined> {
  try {
    return await handle.query<RunProgress>('progress');
  } catch {
    return undefined;
  }
}
