// The CLI on an SFT run: `agentrl run <recipe> --until sft` (in-process worker on a test server), then
// `agentrl status` (stage, step, latest metrics) and `agentrl audit --stage sft`; and sftWorkflow started alone
// with the README's Web UI input.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import type { SftCounts, StageAudit } from '../../schemas/stage.ts';
import type { SftStageResult } from '../../schemas/stage.ts';
import { runCli } from '../support/cli.ts';
import { startInProcessWorker, startTestServer, uniqueQueue, type TestServer } from '../support/temporal.ts';
import { sftData, type SftData } from '../support/sft-run.ts';

let env: TestServer;
let data: SftData;

before(async () => {
  data = sftData();
  env = await startTestServer();
});

after(async () => {
  await env.close();
});

const cli = runCli;

test('agentrl run --until sft, then status and audit --stage sft', async () => {
  const out = mkdtempSync(join(tmpdir(), 'agentrl-sft-cli-'));
  const recipe = join(data.dir, 'recipe.yaml');
  writeFileSync(recipe, [
    'name: cli-sft',
    'seed: 3',
    `output_dir: ${out}`,
    'runtime: {heartbeat_timeout_s: 5, max_attempts: 2}',
    `model: {path: ${join(PROJECT_ROOT, 'recipes/models/tiny')}, init_seed: 2}`,
    'sft:',
    '  data: {files: [train.parquet, "train.js*"]}',
    '  epochs: 2',
    '  max_length: 400',
    '  batch_size: 16',
    '  lr: 1.0e-3',
    '  schedule: {kind: constant}',
    '',
  ].join('\n'));
  const address = env.server.address;
  const run = await cli('run', recipe, '--until', 'sft', '--run-id', 'cli-sft-1', '--address', address);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /sft: 32 conversations trained \(7 rejected\), 4 steps -> .*cli-sft-1\/sft\/model/);
  assert.match(run.stdout, /last step: step 4 \(epoch 2\): loss \d+\.\d+, grad norm/);

  const status = await cli('status', 'cli-sft-1', '--address', address);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /run cli-sft-1: COMPLETED/);
  assert.match(status.stdout, /sft: done, step 4\/4/);
  assert.match(status.stdout, /latest: step 4 \(epoch 2\): loss .* lr 1\.00e-3/);

  const audit = await cli('audit', 'cli-sft-1', '--stage', 'sft', '--address', address);
  assert.equal(audit.code, 0, audit.stderr);
  const record = JSON.parse(audit.stdout) as StageAudit<SftCounts>;
  assert.equal(record.stage, 'sft');
  assert.equal(record.counts.accepted, 32);
  assert.equal(record.counts.rejected, 7);

  const none = await cli('audit', 'cli-sft-1', '--stage', 'balance', '--address', address);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /no finished balance stage with an audit record/);
});

test('sftWorkflow alone with the README\'s Web UI input (one JSON object: the recipe)', async () => {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /<!-- ui-start-sft-input -->\s*```json\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'README shows the SFT Start Workflow input');
  const input = JSON.parse(block[1]);
  input.output_dir = mkdtempSync(join(tmpdir(), 'agentrl-sft-ui-')); // the README writes under runs/
  const queue = uniqueQueue('sft-ui');
  const worker = await startInProcessWorker(env.server.address, queue); // resolves relative paths against the repository root
  try {
    const r = (await env.client.workflow.execute('sftWorkflow', { taskQueue: queue, workflowId: 'sft-ui', args: [input] })) as SftStageResult;
    assert.equal(r.counts.accepted, 32);
    assert.equal(r.counts.steps, 8);
    assert.equal(r.model.dir, join(input.output_dir, 'sft-ui', 'sft', 'model'));
  } finally {
    await worker.stop();
  }
});
