// Where a run's training stages stand, read from the server: the SFT stage from its memo (updated after each epoch)
// or, mid-epoch, the train step's last heartbeat; the GRPO stage from its memo (updated after each RL step). Used by
// `agentrl status` (several lines) and by `agentrl run` while it follows a run (one line per change).
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TrainHeartbeat } from '../activities/sft.ts';
import { formatHeadline, grpoHeadline, sftHeadline } from '../schemas/headline-metrics.ts';
import type { StepMetrics } from '../schemas/stage.ts';

export interface SftProgress {
  state: string;
  step: number;
  steps?: number;
  attempt: number;
  last?: StepMetrics;
  checkpoint?: string;
  model?: string;
  audit?: string;
}

export interface GrpoProgress {
  state: string;
  step: number;
  totalSteps: number;
  metrics?: Record<string, number> | null;
  checkpoint?: string;
  audit?: string;
}

type Memo = Record<string, unknown>;

/** The stage's workflow: `<run-id>.<stage>` under the pipeline, or the run itself when the stage was started alone. */
async function stageExecution(client: Client, runId: string, stage: string) {
  for (const id of [`${runId}.${stage}`, runId]) {
    // One describe: its raw response carries the pending activities' heartbeat details.
    const d = await client.workflow.getHandle(id).describe().catch(() => undefined);
    if (!d) continue;
    const memo = (d.memo ?? {})[stage] as Memo | undefined;
    if (memo || id !== runId || d.type === `${stage}Workflow`) return { raw: d.raw, status: d.status.name, memo };
  }
  return undefined;
}

function stateOf(status: string, done: boolean, running: string): string {
  return done ? 'done' : status === 'RUNNING' ? running : status.toLowerCase();
}

export async function sftProgress(client: Client, runId: string): Promise<SftProgress | undefined> {
  const ex = await stageExecution(client, runId, 'sft');
  if (!ex) return undefined;
  const memo = ex.memo as { state?: string; step?: number; steps?: number; last?: StepMetrics; model?: string; audit?: string } | undefined;
  const pending = (ex.raw.pendingActivities ?? []).find((a) => a.activityType?.name === 'trainSftEpoch');
  const payload = pending?.heartbeatDetails?.payloads?.[0];
  const beat = payload ? (defaultPayloadConverter.fromPayload(payload) as TrainHeartbeat) : undefined;
  if (!memo && !beat) return undefined;
  return {
    state: stateOf(ex.status, memo?.state === 'done', 'training'),
    step: beat?.step ?? memo?.step ?? 0,
    steps: memo?.steps,
    attempt: pending?.attempt ?? 1,
    last: beat?.last ?? memo?.last,
    checkpoint: beat?.checkpoint?.path,
    model: memo?.model,
    audit: memo?.audit,
  };
}

export async function grpoProgress(client: Client, runId: string): Promise<GrpoProgress | undefined> {
  const ex = await stageExecution(client, runId, 'grpo');
  const memo = ex?.memo as { step?: number; totalSteps?: number; metrics?: Record<string, number> | null; checkpoint?: string; audit?: string } | undefined;
  if (!ex || !memo) return undefined;
  return {
    state: stateOf(ex.status, memo.audit !== undefined, 'training'),
    step: memo.step ?? 0,
    totalSteps: memo.totalSteps ?? 0,
    metrics: memo.metrics,
    checkpoint: memo.checkpoint,
    audit: memo.audit,
  };
}

export function formatSftMetrics(m: StepMetrics): string {
  return `step ${m.step} (epoch ${m.epoch + 1}): loss ${m.loss.toFixed(4)}, grad norm ${m.grad_norm.toFixed(3)}, lr ${m.lr.toExponential(2)}, ` +
    `${m.tokens} tokens (${m.trained_tokens} trained), ${m.seconds.toFixed(2)} s, ${m.tokens_per_s.toFixed(0)} tokens/s`;
}

export function formatGrpoMetrics(m: Record<string, number>): string {
  return formatHeadline(grpoHeadline(m));
}

/** One line on the training stage now running, or '' when neither has reported yet. */
export async function progressLine(client: Client, runId: string): Promise<string> {
  const g = await grpoProgress(client, runId).catch(() => undefined);
  if (g && g.state !== 'done') return `  grpo: step ${g.step}/${g.totalSteps}${g.metrics ? `: ${formatGrpoMetrics(g.metrics)}` : ''}`;
  const s = await sftProgress(client, runId).catch(() => undefined);
  if (s && s.state !== 'done') return `  sft: step ${s.step}${s.steps ? `/${s.steps}` : ''}${s.last ? `, ${formatHeadline(sftHeadline(s.last))}` : ''}`;
  return '';
}
