// The whole recipe as one run: each stage present in the recipe, in recipe order up to `until`, runs as a child
// workflow (`<run-id>.<stage>`), so each can also be started (and audited) on its own.
import { ApplicationFailure, defineQuery, executeChild, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { parseRecipe, stagesToRun } from '../schemas/recipe.ts';
import type { Recipe } from '../schemas/recipe.ts';
import type { PipelineResult, RunProgress } from '../schemas/stage.ts';
import { balanceWorkflow } from './balance.ts';
import { sftWorkflow } from './sft.ts';

export const progressQuery = defineQuery<RunProgress>('progress');

export async function pipelineWorkflow(recipe: Recipe): Promise<PipelineResult> {
  const runId = recipe.run_id ?? workflowInfo().workflowId;
  let stages;
  try {
    stages = stagesToRun(parseRecipe(recipe, `for run ${runId}`));
  } catch (err) {
    throw ApplicationFailure.create({ type: 'RecipeError', message: (err as Error).message, nonRetryable: true });
  }
  const progress: RunProgress = { runId, stage: stages[0], step: 'running', done: [] };
  setHandler(progressQuery, () => progress);
  const result: PipelineResult = { runId, stages: {} };
  for (const stage of stages) {
    progress.stage = stage;
    upsertSearchAttributes({ AgentrlRecipe: [recipe.name ?? 'agentrl'], AgentrlStage: [stage] });
    const options = { args: [{ ...recipe, run_id: runId }] as [Recipe], workflowId: `${workflowInfo().workflowId}.${stage}` };
    if (stage === 'balance') result.stages.balance = await executeChild(balanceWorkflow, options);
    else if (stage === 'sft') result.stages.sft = await executeChild(sftWorkflow, options);
    progress.done.push(stage);
  }
  progress.step = 'finished';
  upsertSearchAttributes({ AgentrlStage: ['done'] });
  return result;
}
