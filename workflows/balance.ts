// Stage 1 of the recipe as a dataflow: read every source -> dedupe across sources and sample `take` per source
// -> write the verl RL set and the rejects table -> audit. Steps exchange artifact references, never rows.
import { ApplicationFailure, proxyActivities, setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities/index.ts';
import { stepOptions, stepTimer } from './steps.ts';
import { formatDetails } from './details.ts';
import type { Recipe } from '../schemas/recipe.ts';
import type { BalanceStageResult, SourceCounts } from '../schemas/stage.ts';


function steps(heartbeatTimeoutS: number, maxAttempts: number, summary?: string) {
  return proxyActivities<typeof activities>(stepOptions({ heartbeatTimeoutS, maxAttempts, startToClose: '4 hours', summary }));
}

/** Starts the balance stage on its own (one JSON object: the recipe) or as the pipeline's first child. */
export async function balanceWorkflow(recipe: Recipe): Promise<BalanceStageResult> {
  const startedAt = new Date().toISOString();
  const { timings, timed } = stepTimer('balance');

  // Validate on the worker with the defaults filled in; short timeouts until the recipe says otherwise.
  const ctx = await timed('prepare', () =>
    steps(30, 3).prepareStage({ recipe, stage: 'balance', workflowId: workflowInfo().workflowId }),
  );
  upsertSearchAttributes({ AgentrlRecipe: [ctx.recipe.name], AgentrlRecipeHash: [ctx.recipeHash], AgentrlStage: ['balance'] });
  const cfg = ctx.recipe.balance;
  if (!cfg) throw ApplicationFailure.create({ type: 'RecipeError', message: 'the recipe has no balance section', nonRetryable: true });
  const act = steps(ctx.recipe.runtime.heartbeat_timeout_s, ctx.recipe.runtime.max_attempts);

  const ingested = await timed('ingest', () =>
    Promise.all(
      cfg.sources.map((source) =>
        // A summary per source so the Web UI's timeline says which source each parallel step reads.
        steps(ctx.recipe.runtime.heartbeat_timeout_s, ctx.recipe.runtime.max_attempts, `ingest ${source.name} (${source.format})`)
          .ingestSource({ source, baseDir: ctx.baseDir, workDir: ctx.workDir }),
      ),
    ),
  );

  const selection = await timed('select', () =>
    act.selectBalanced({
      inputs: ingested.map((r, i) => ({ source: r.source, candidates: r.candidates, take: cfg.sources[i].take ?? cfg.per_source })),
      seed: ctx.recipe.seed,
      priority: cfg.dedupe_priority,
      shortfall: cfg.shortfall,
      workDir: ctx.workDir,
    }),
  );

  const [rl, rejects] = await timed('write', () =>
    Promise.all([
      act.writeRlDataset({ selected: selection.selected, templates: cfg.templates, agentName: cfg.agent_name, split: 'train', outDir: ctx.outDir }),
      act.writeRejectsTable({ rejects: [...ingested.map((r) => r.rejects), selection.rejects], outDir: ctx.outDir }),
    ]),
  );

  const counts: Record<string, SourceCounts> = {};
  for (const r of ingested) {
    const s = selection.counts[r.source];
    if (!s) throw ApplicationFailure.nonRetryable(`selection returned no counts for source ${r.source}`);
    counts[r.source] = {
      read: r.counts.read,
      rejected: r.counts.rejected,
      eligibleBeforeDedupe: r.counts.eligible,
      duplicateWithin: s.duplicateWithin,
      duplicateAcross: s.duplicateAcross,
      eligible: s.eligible,
      requested: cfg.sources.find((src) => src.name === r.source)?.take ?? cfg.per_source,
      sampled: s.sampled,
      shortfall: s.shortfall,
    };
  }

  const audit = await act.writeStageAudit({
    outDir: ctx.outDir,
    stage: 'balance',
    runId: ctx.runId,
    workflowId: workflowInfo().workflowId,
    recipeName: ctx.recipe.name,
    recipeHash: ctx.recipeHash,
    seed: ctx.recipe.seed,
    codeVersion: ctx.codeVersion,
    startedAt,
    finishedAt: new Date().toISOString(),
    inputs: Object.fromEntries(ingested.map((r) => [r.source, r.inputs])),
    counts,
    outputs: { rl_parquet: rl.parquet, rl_arrow: rl.arrow, rejects },
    timings,
    recipe: ctx.recipe,
  });

  const sampled = Object.values(counts).reduce((n, c) => n + c.sampled, 0);
  upsertMemo({
    balance: { audit: audit.path, rl: rl.parquet.path, rows: rl.parquet.rows, sha256: rl.parquet.sha256, sampled },
  });
  setCurrentDetails(balanceDetails(ctx.runId, rl.parquet.path, audit.path, counts));
  return { runId: ctx.runId, outDir: ctx.outDir, rlParquet: rl.parquet, rlArrow: rl.arrow, rejects, audit, counts };
}

/** The Web UI's "current details" text: per-source counts in a fixed-width table (workflows/details.ts). */
function balanceDetails(runId: string, rlPath: string, auditPath: string, counts: Record<string, SourceCounts>): string {
  const rows = Object.entries(counts).map(([name, c]) => {
    const rejected = Object.values(c.rejected).reduce((a, b) => a + b, 0);
    return [name, c.read, rejected, c.duplicateWithin + c.duplicateAcross, c.eligible, c.sampled];
  });
  return formatDetails({
    heading: `**balance** done for run \`${runId}\``,
    table: { head: ['source', 'read', 'rejected', 'duplicates', 'eligible', 'sampled'], rows },
    paths: [['RL set', rlPath], ['audit', auditPath]],
  });
}
