// Shared set-up of the SFT-stage tests: a small SFT set in both real layouts written by pyarrow at test time
// (test/sft/make_sft_data.py), a recipe over it with the tiny model, and the run helper.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { parseRecipe } from '../../schemas/recipe.ts';
import type { Recipe } from '../../schemas/recipe.ts';
import type { SftStageResult } from '../../schemas/stage.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

export const PYTHON = join(PROJECT_ROOT, '.tools/py/bin/python');

export interface SftData {
  dir: string;
  goodPerFile: number;
  /** Planted bad rows per file layout, by reject kind. */
  bad: { parquet: Record<string, number>; jsonl: Record<string, number> };
}

export function generateSftData(goodPerFile = 8, dir = mkdtempSync(join(tmpdir(), 'agentrl-sft-data-'))): SftData {
  const res = spawnSync(PYTHON, [join(PROJECT_ROOT, 'test/sft/make_sft_data.py'), dir, String(goodPerFile)], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`make_sft_data.py failed: ${res.stderr}`);
  const info = JSON.parse(res.stdout.trim()) as { good_per_file: number; bad: SftData['bad'] };
  return { dir, goodPerFile: info.good_per_file, bad: info.bad };
}

/** An SFT-only recipe on the tiny model (seeded initialisation), sized for tests. */
export function sftRecipe(data: SftData, outDir: string, sft: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Recipe {
  return parseRecipe({
    name: 'sft-test',
    seed: 11,
    output_dir: outDir,
    base_dir: data.dir,
    runtime: { heartbeat_timeout_s: 3, max_attempts: 4 },
    model: { path: join(PROJECT_ROOT, 'recipes/models/tiny'), init_seed: 1 },
    sft: {
      data: { files: ['train.parquet', 'train.jsonl'] },
      epochs: 3,
      max_length: 400,
      batch_size: 4,
      lr: 3e-3,
      schedule: { kind: 'cosine', warmup_ratio: 0.1 },
      save_every_steps: 3,
      ...sft,
    },
    ...extra,
  });
}

export async function runSft(client: Client, taskQueue: string, recipe: Recipe, workflowId: string): Promise<SftStageResult> {
  return client.workflow.execute('sftWorkflow', { taskQueue, workflowId, args: [recipe] }) as Promise<SftStageResult>;
}
