// The whole recipe as one run: each stage is a child workflow, so each can also be started (and audited) on
// its own. This version runs the balance stage; SFT and GRPO-TCR are added as their stages land.
import { defineQuery, executeChild, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { Recipe } from '../schemas/recipe.ts';
import type { PipelineResult, RunProgress } from '../schemas/stage.ts';
import { balanceWorkflow } from './balance.ts';

export const progressQuery = defineQuery<RunProgress>('progress');

export async function pipelineWorkflow(recipe: Recipe): Promise<PipelineResult> {
  const runId = recipe.run_id ?? workflowInfo().workflowId;
  const progress: RunProgress = { runId, stage: 'balance', step: 'running', done: [] };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes({ AgentrlRecipe: [recipe.name ?? 'agentrl'], AgentrlStage: ['balance'] });

  const balance = await executeChild(balanceWorkflow, {
    args: [{ ...recipe, run_id: runId }],
    workflowId: `${workflowInfo().workflowId}.balance`,
  });
  progress.done.push('balance');
  progress.step = 'finished';
  upsertSearchAttributes({ AgentrlStage: ['done'] });
  return { runId, stages: { balance } };
}
