// A stage started by the pipeline tells it where it is (stage, step, latest metrics) with a signal, so the
// pipeline's own Web UI page shows the running stage's progress, not only the child's page. A workflow cannot read
// another's state, and the pipeline's current details are computed from its own state when the UI asks.
// Each signal is an event in both histories and a row of its own on the pipeline's Web UI timeline: one per RL step
// buried the stage rows of a 20-step demo's timeline. So a stage sends a bounded number whatever its length: one
// when training starts (the steps to come), a handful over the run (`newsDue`), and its last.
import { defineSignal, getExternalWorkflowHandle, workflowInfo } from '@temporalio/workflow';
import type { Headline } from '../schemas/headline-metrics.ts';
import type { StageProgress } from '../schemas/stage.ts';

export const stageProgressSignal = defineSignal<[StageProgress]>('stageProgress');

/** Sends `p` to the parent pipeline; a stage started on its own has none. A signal that fails only leaves the page behind. */
export async function tellPipeline(p: StageProgress): Promise<void> {
  const parent = workflowInfo().parent;
  if (!parent) return;
  try {
    await getExternalWorkflowHandle(parent.workflowId, parent.runId).signal(stageProgressSignal, p);
  } catch {
    // The pipeline closed (terminated or cancelled): there is no page left to update, and the stage goes on.
  }
}

/**
 * Whether unit `done` (1-based: an epoch, an RL step) of `total` is one to tell the pipeline of: every
 * ceil(total / most)-th, and the last, so at most `most` + 1 over the stage.
 */
export function newsDue(done: number, total: number, most: number): boolean {
  return done === total || done % Math.max(1, Math.ceil(total / most)) === 0;
}

export function latest(headline: Headline[]): [string, number][] {
  return headline.map((h) => [h.label, h.value]);
}
