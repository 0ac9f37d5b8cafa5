// Stage 2 of the recipe as a dataflow: tokenise the SFT files (rejects kept) -> load the base model as the step-0
// checkpoint -> train, one durable activity per epoch, each handing the next its last checkpoint -> export the
// final checkpoint as a Hugging Face directory -> audit. Steps exchange references (paths + sha256), never rows.
import { ApplicationFailure, proxyActivities, setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { prepareStage, SftActivities } from '../activities/index.ts';
import { stepOptions, stepTimer } from './steps.ts';
import { latest, newsDue, tellPipeline } from './progress.ts';
import { sftHeadline } from '../schemas/headline-metrics.ts';
import type { Recipe } from '../schemas/recipe.ts';
import type { SftStageResult, StepMetrics } from '../schemas/stage.ts';

type Steps = SftActivities & { prepareStage: typeof prepareStage };

function steps(heartbeatTimeoutS: number, maxAttempts: number, summary?: string) {
  return proxyActivities<Steps>(stepOptions({ heartbeatTimeoutS, maxAttempts, startToClose: '7 days', summary }));
}

/** Starts the SFT stage on its own (one JSON object: the recipe) or as a child of the pipeline. */
export async function sftWorkflow(recipe: Recipe): Promise<SftStageResult> {
  const startedAt = new Date().toISOString();
  const { timings, timed } = stepTimer('sft');

  const ctx = await timed('prepare', () => steps(30, 3).prepareStage({ recipe, stage: 'sft', workflowId: workflowInfo().workflowId }));
  const { sft, model, runtime, seed } = ctx.recipe;
  if (!sft?.data.files || !model) throw ApplicationFailure.create({ type: 'RecipeError', nonRetryable: true, message: 'the SFT stage needs sft.data.files and model.path' });
  upsertSearchAttributes({ AgentrlRecipe: [ctx.recipe.name], AgentrlRecipeHash: [ctx.recipeHash], AgentrlStage: ['sft'] });
  const act = steps(runtime.heartbeat_timeout_s, runtime.max_attempts);
  const where = { workDir: ctx.workDir, outDir: ctx.outDir };

  const data = await timed('tokenize', () =>
    act.tokenizeSft({ files: sft.data.files!, baseDir: ctx.baseDir, modelPath: model.path, maxLength: sft.max_length, multiTurn: sft.multi_turn, ...where }));
  if (data.counts.accepted === 0) {
    throw ApplicationFailure.create({ type: 'BadInputError', nonRetryable: true, message: `every SFT row was rejected (${data.counts.rejected}); reasons in ${data.rejects.path}` });
  }
  const base = await timed('load model', () =>
    act.prepareSftModel({ model, baseDir: ctx.baseDir, workDir: ctx.workDir, seed, longestRow: data.counts.longestRow, sft }));

  const stepsPerEpoch = Math.ceil(data.counts.accepted / sft.batch_size);
  let checkpoint = base.checkpoint;
  let last: StepMetrics | undefined;
  let metrics = undefined as SftStageResult['metrics'] | undefined;
  const epochs: SftStageResult['epochs'] = [];
  await timed('train', async () => {
    const totalSteps = stepsPerEpoch * sft.epochs;
    await tellPipeline({ stage: 'sft', state: `training ${sft.epochs} epochs`, step: 0, totalSteps });
    for (let epoch = 0; epoch < sft.epochs; epoch++) {
      const r = await steps(runtime.heartbeat_timeout_s, runtime.max_attempts, `train epoch ${epoch + 1}/${sft.epochs}`)
        .trainSftEpoch({ tokens: data.tokens, from: checkpoint, epoch, sft, seed, ...where });
      ({ checkpoint, metrics } = r);
      last = r.last ?? last;
      epochs.push({ epoch, step: checkpoint.step, checkpoint: checkpoint.sha256, loaded: r.loaded });
      upsertMemo({ sft: { state: 'training', epoch: epoch + 1, epochs: sft.epochs, step: checkpoint.step, steps: totalSteps, last, checkpoint: checkpoint.path } });
      setCurrentDetails(details(ctx.runId, `epoch ${epoch + 1}/${sft.epochs}, step ${checkpoint.step}/${totalSteps}`, last));
      if (newsDue(epoch + 1, sft.epochs, 4)) {
        await tellPipeline({ stage: 'sft', state: `epoch ${epoch + 1}/${sft.epochs} done`, step: checkpoint.step, totalSteps, latest: last && latest(sftHeadline(last)) });
      }
    }
  });

  const exported = await timed('export', () => act.exportSftModel({ checkpoint, modelDir: base.modelDir, baseDtype: base.baseDtype, outDir: ctx.outDir }));
  const counts = { ...data.counts, stepsPerEpoch, epochs: sft.epochs, steps: stepsPerEpoch * sft.epochs };
  const audit = await act.writeSftAudit({
    outDir: ctx.outDir, stage: 'sft', runId: ctx.runId, workflowId: workflowInfo().workflowId, recipeName: ctx.recipe.name, recipeHash: ctx.recipeHash, seed,
    codeVersion: ctx.codeVersion, startedAt, finishedAt: new Date().toISOString(),
    inputs: { sft_data: data.inputs, model: base.inputs },
    counts,
    outputs: { tokens: data.tokens, rejects: data.rejects, metrics: metrics!, ...Object.fromEntries(exported.files.map((f) => [`model/${f.path.split('/').pop()}`, f])) },
    model: { base_digest: base.baseDigest, base_dtype: base.baseDtype, output_digest: exported.modelDigest, checkpoint, memory_check: base.memory, dir: exported.dir, epochs },
    timings,
    recipe: ctx.recipe,
  });
  upsertMemo({ sft: { state: 'done', audit: audit.path, model: exported.dir, step: checkpoint.step, steps: counts.steps, last, checkpoint: checkpoint.path } });
  setCurrentDetails(details(ctx.runId, `done: model in \`${exported.dir}\`, audit \`${audit.path}\``, last));
  return {
    runId: ctx.runId, outDir: ctx.outDir, model: { dir: exported.dir, files: exported.files }, checkpoint, modelDigest: exported.modelDigest,
    baseModelDigest: base.baseDigest, tokens: data.tokens, rejects: data.rejects, metrics: metrics!, audit, counts, last, epochs,
  };
}

/** Markdown for the Web UI's "current details" panel. */
function details(runId: string, state: string, m: StepMetrics | undefined): string {
  const lines = [`**sft** for run \`${runId}\`: ${state}`];
  if (m) {
    lines.push('', '| step | loss | grad norm | lr | tokens | trained | tokens/s |', '|---|---|---|---|---|---|---|');
    lines.push(`| ${m.step} | ${m.loss.toFixed(4)} | ${m.grad_norm.toFixed(3)} | ${m.lr.toExponential(2)} | ${m.tokens} | ${m.trained_tokens} | ${m.tokens_per_s.toFixed(0)} |`);
  }
  return lines.join('\n');
}
