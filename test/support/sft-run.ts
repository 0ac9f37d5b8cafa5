// Shared set-up of the SFT-stage tests: a small SFT set in both real layouts written by pyarrow
// (test/fixtures/sft/, made by make_sft_data.py there), a recipe over it with the tiny model, and the run helper.
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { parseRecipe } from '../../schemas/recipe.ts';
import type { Recipe } from '../../schemas/recipe.ts';
import type { SftStageResult } from '../../schemas/stage.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

const FIXTURES = join(PROJECT_ROOT, 'test/fixtures/sft');

export interface SftData {
  dir: string;
  goodPerFile: number;
  /** Planted bad rows per file layout, by reject kind. */
  bad: { parquet: Record<string, number>; jsonl: Record<string, number> };
}

/** A fresh copy of the fixture set (train.parquet, train.jsonl), so each test's outputs and recipes stay apart. */
export function sftData(dir = mkdtempSync(join(tmpdir(), 'agentrl-sft-data-'))): SftData {
  for (const f of ['train.parquet', 'train.jsonl']) cpSync(join(FIXTURES, f), join(dir, f));
  const info = JSON.parse(readFileSync(join(FIXTURES, 'planted.json'), 'utf8')) as { good_per_file: number; bad: SftData['bad'] };
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
      batch_size: 8,
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
