// Shared by the report tests: a real balance run (real Temporal server, real worker, the generated sources in
// the five formats) and the stage files the SFT and GRPO stages write, copied from the pyarrow-written fixtures.
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { generateSources, recipeFor, runPipeline } from '../support/balance-run.ts';
import { startInProcessWorker, startTestServer, uniqueQueue } from '../support/temporal.ts';

export const FIXTURES = join(PROJECT_ROOT, 'test/report/fixtures');

/** Runs the balance stage (100 rows per source) into a fresh output directory; returns the run directory. */
export async function balanceRun(runId: string): Promise<string> {
  const data = generateSources();
  const out = mkdtempSync(join(tmpdir(), 'agentrl-report-'));
  const env = await startTestServer();
  const queue = uniqueQueue('report');
  const worker = await startInProcessWorker(env.server.address, queue);
  try {
    const base = recipeFor(data, out);
    // Default heartbeat timeout (the shared test recipe's 5 s is for crash tests; a loaded CI machine can miss it).
    const recipe = recipeFor(data, out, { balance: { ...base.balance!, per_source: 100 }, runtime: { heartbeat_timeout_s: 60, max_attempts: 3 } });
    await runPipeline(env.client, queue, recipe, runId);
  } finally {
    await worker.stop();
    await env.close();
  }
  return join(out, runId);
}

/** Puts the SFT and GRPO stage files (metrics tables, trajectory record) into a run directory. */
export function addTrainingStages(runDir: string): void {
  mkdirSync(join(runDir, 'sft'), { recursive: true });
  mkdirSync(join(runDir, 'grpo'), { recursive: true });
  copyFileSync(join(FIXTURES, 'sft_metrics.parquet'), join(runDir, 'sft', 'metrics.parquet'));
  copyFileSync(join(FIXTURES, 'grpo_metrics.parquet'), join(runDir, 'grpo', 'metrics.parquet'));
  // Where the stage keeps a validation point's scored record (the fixture holds steps 0 and 10).
  mkdirSync(join(runDir, 'grpo', 'work', 'scored'), { recursive: true });
  copyFileSync(join(FIXTURES, 'trajectories.arrow'), join(runDir, 'grpo', 'work', 'scored', 'step-000010-val.arrow'));
}
