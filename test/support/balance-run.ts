// Shared set-up of the balance-stage tests: generated sources in the five real formats, a recipe over them, and
// helpers to run the pipeline against a real server.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import type { Recipe } from '../../schemas/recipe.ts';
import { parseRecipe } from '../../schemas/recipe.ts';
import type { PipelineResult } from '../../schemas/stage.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

/** Generates the test-scale sources into a fresh directory (or `dir`) with the repo's generator script. */
export function generateSources(dir = mkdtempSync(join(tmpdir(), 'agentrl-sources-'))): string {
  if (existsSync(join(dir, '.complete'))) return dir;
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'test/fixtures/balance-sources.ts'), '--out', dir, '--scale', 'test'], {
    encoding: 'utf8',
  });
  if (res.status !== 0) throw new Error(`source generator failed: ${res.stderr}`);
  return dir;
}

export function recipeFor(dataDir: string, outDir: string, overrides: Partial<Recipe> = {}): Recipe {
  return parseRecipe({
    name: 'test',
    seed: 42,
    output_dir: outDir,
    base_dir: dataDir,
    runtime: { heartbeat_timeout_s: 5, max_attempts: 3 },
    balance: {
      per_source: 400,
      sources: [
        { name: 'deepscaler', format: 'deepscaler_json', files: ['deepscaler/deepscaler.json'] },
        { name: 'omni_math', format: 'omni_math_jsonl', files: ['omni_math/test.jsonl'] },
        { name: 'numina_math', format: 'numina_parquet', files: ['numina_math/data/train-*.parquet'] },
        { name: 'taco_code', format: 'taco_arrow', files: ['taco/train/data-*.arrow'] },
        { name: 'leetcode_code', format: 'leetcode_jsonl', files: ['leetcode/LeetCodeDataset-train.jsonl'] },
      ],
    },
    ...overrides,
  });
}

export async function runPipeline(client: Client, taskQueue: string, recipe: Recipe, runId: string): Promise<PipelineResult> {
  return client.workflow.execute('pipelineWorkflow', { taskQueue, workflowId: runId, args: [recipe] }) as Promise<PipelineResult>;
}
