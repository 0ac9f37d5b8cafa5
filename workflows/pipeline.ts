// The whole recipe as one run: each stage present in the recipe, in recipe order up to `until`, runs as a child
// workflow (`<run-id>.<stage>`), so each can also be started (and audited) on its own.
import { ApplicationFailure, defineQuery, executeChild, proxyActivities, setCurrentDetails, setHandler, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { NON_RETRYABLE_ERRORS } from '../schemas/errors.ts';
import { type DetailsCell, formatDetails, formatDetailsNumber as num, runSummary, stageSummary } from './details.ts';
import { parseRecipe, stagesToRun } from '../schemas/recipe.ts';
import type { Recipe } from '../schemas/recipe.ts';
import type { PipelineResult, RunProgress, StageProgress } from '../schemas/stage.ts';
import { validationMean } from '../schemas/headline-metrics.ts';
import { stageProgressSignal } from './progress.ts';
import { balanceWorkflow } from './balance.ts';
import { sftWorkflow } from './sft.ts';
import { grpoWorkflow } from './grpo.ts';

export const progressQuery = defineQuery<RunProgress>('progress');

/** What each finished stage left, for the pipeline's own page: its outcome and latest metrics, and its outputs. */
function stageOutcomes(stages: PipelineResult['stages']): { values: [string, DetailsCell][]; paths: [string, string][] } {
  const values: [string, DetailsCell][] = [];
  const paths: [string, string][] = [];
  const { balance: b, sft, grpo } = stages;
  if (b) {
    values.push(['balance', `${b.rlParquet.rows} prompts from ${Object.keys(b.counts).length} sources`]);
    paths.push(['balance RL set', b.rlParquet.path]);
  }
  if (sft) {
    values.push(['sft', sft.last ? `step ${sft.last.step}: loss ${num(sft.last.loss)}, ${num(sft.last.tokens_per_s)} tokens/s` : 'no step']);
    paths.push(['sft model', sft.model.dir], ['sft metrics', sft.metrics.path]);
  }
  if (grpo) {
    const last = grpo.last ?? {};
    const val = validationMean(last);
    const shown = [`${grpo.steps} RL steps`];
    if (last['critic/score/mean'] !== undefined) shown.push(`score ${num(last['critic/score/mean'])}`);
    if (val) shown.push(`validation acc ${num(val.mean)}`);
    values.push(['grpo', shown.join(', ')]);
    paths.push(['grpo checkpoint', grpo.checkpoint.path]);
    if (grpo.metrics) paths.push(['grpo metrics', grpo.metrics.path]);
  }
  return { values, paths };
}

/**
 * What a stage is started with: the recipe, under the run's id. GRPO after SFT starts from the SFT export, and
 * validates the model SFT started from beside it before training (before SFT), unless grpo.validation.before_sft
 * or before_training is false.
 */
function stageRecipe(recipe: Recipe, stage: string, done: PipelineResult['stages'], runId: string): Recipe {
  const sft = stage === 'grpo' ? done.sft : undefined;
  if (!sft) return { ...recipe, run_id: runId };
  const v = recipe.grpo?.validation;
  const beforeSft = v?.before_sft !== false && v?.before_training !== false;
  // The pipeline's input is the recipe as given (a UI-started run's JSON, defaults not filled): the stage parses it.
  return { ...recipe, run_id: runId, model: { path: sft.model.dir }, ...(beforeSft ? { grpo: { ...recipe.grpo, validation: { ...v, baseline_model: recipe.model } } } : {}) } as Recipe;
}

/** The running stage's step and latest metrics, as its workflow last told the pipeline. */
function liveValues(live: StageProgress | undefined): [string, DetailsCell][] {
  if (!live) return [];
  const values: [string, DetailsCell][] = [];
  if (live.step !== undefined) values.push(['step', live.totalSteps ? `${live.step}/${live.totalSteps}` : live.step]);
  // One line per metric: a single line of them ran past the panel's width.
  for (const [label, v] of live.latest ?? []) values.push([label, v]);
  return values;
}

export async function pipelineWorkflow(recipe: Recipe): Promise<PipelineResult> {
  const runId = recipe.run_id ?? workflowInfo().workflowId;
  let stages;
  let name;
  try {
    const parsed = parseRecipe(recipe, `for run ${runId}`);
    stages = stagesToRun(parsed);
    name = parsed.name;
  } catch (err) {
    throw ApplicationFailure.create({ type: 'RecipeError', message: (err as Error).message, nonRetryable: true });
  }
  const progress: RunProgress = { runId, stage: stages[0], step: 'running', done: [] };
  setHandler(progressQuery, () => progress);
  const result: PipelineResult = { runId, stages: {} };
  const { writeRunReport } = proxyActivities<typeof activities>({
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '60 seconds',
    retry: { maximumAttempts: 3, nonRetryableErrorTypes: [...NON_RETRYABLE_ERRORS] },
  });
  // The pipeline's own page says what the run is (its first line: the summary a UI-started run lacks), where it is
  // (the running stage's step and latest metrics, as the stage tells it) and what each finished stage left; each
  // stage's page has the stage's details.
  const summary = runSummary(name, stages);
  let now = '';
  const showProgress = (paths: [string, string][] = []) => {
    const outcomes = stageOutcomes(result.stages);
    setCurrentDetails(formatDetails({
      heading: `**${summary}** (run \`${runId}\`)`,
      values: [['stages', stages.join(' -> ')], ['done', progress.done.join(', ') || '-'], ['now', now], ...liveValues(progress.live), ...outcomes.values],
      paths: [...paths, ...outcomes.paths, ...stages.map((s): [string, string] => [`${s} details`, `${workflowInfo().workflowId}.${s}`])],
    }));
  };
  setHandler(stageProgressSignal, (p) => {
    if (p.stage !== progress.stage || progress.done.includes(p.stage)) return; // late news of a stage that ended
    progress.live = p;
    now = `${p.stage}: ${p.state}`;
    showProgress();
  });
  for (const stage of stages) {
    progress.stage = stage;
    progress.live = undefined;
    now = `${stage} (child workflow ${workflowInfo().workflowId}.${stage})`;
    showProgress();
    upsertSearchAttributes({ AgentrlRecipe: [name], AgentrlStage: [stage] });
    const input = stageRecipe(recipe, stage, result.stages, runId);
    const options = {
      args: [input] as [Recipe],
      workflowId: `${workflowInfo().workflowId}.${stage}`,
      // The Web UI labels the child on the pipeline's timeline with its summary and shows both on the child's page.
      staticSummary: stageSummary(name, stages, stage, runId),
      staticDetails: formatDetails({
        heading: `stage **${stage}** of **${summary}**`,
        values: [['run', runId], ['pipeline', workflowInfo().workflowId], ['stage', `${stages.indexOf(stage) + 1} of ${stages.length}`], ['model', input.model?.path]],
      }),
    };
    if (stage === 'balance') result.stages.balance = await executeChild(balanceWorkflow, options);
    else if (stage === 'sft') result.stages.sft = await executeChild(sftWorkflow, options);
    else if (stage === 'grpo') result.stages.grpo = await executeChild(grpoWorkflow, options);
    progress.done.push(stage);
    progress.live = undefined;
  }
  progress.step = 'report';
  now = 'writing the report';
  showProgress();
  const report = await writeRunReport({ recipe, runId });
  upsertMemo({ report: report.path });
  progress.step = 'finished';
  now = 'finished';
  showProgress([['report', report.path]]);
  upsertSearchAttributes({ AgentrlStage: ['done'] });
  return { ...result, report: report.path };
}
