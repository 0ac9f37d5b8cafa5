// The SFT stage end to end on a real Temporal dev server, on SFT files in both real layouts (parquet with struct
// arguments written by pyarrow, JSON lines with string arguments) with the tiny model: the loss falls, the
// exported directory loads in the engine with the trained weights, rejects are exact, runs are reproducible.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { loadCheckpoint } from '../../engine/checkpoint.ts';
import { Learner } from '../../engine/learner.ts';
import type { SftCounts, StageAudit } from '../../schemas/stage.ts';
import { loadTrainCheckpoint, modelDigest, readTokenRows } from '../../training/index.ts';
import { startInProcessWorker, startTestServer, uniqueQueue, type TestServer } from '../support/temporal.ts';
import { generateSftData, runSft, sftRecipe, type SftData } from '../support/sft-run.ts';

let env: TestServer;
let worker: { stop(): Promise<void> };
const queue = uniqueQueue('sft-e2e');
const out = mkdtempSync(join(tmpdir(), 'agentrl-sft-runs-'));
let data: SftData;

before(async () => {
  data = generateSftData();
  env = await startTestServer();
  worker = await startInProcessWorker(env.server.address, queue);
});

after(async () => {
  await worker.stop();
  await env.close();
});

const read = async (path: string) => (await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors })) as any[];

test('SFT on parquet + jsonl: loss falls, exact rejects, an HF directory with the trained weights, an audit', async () => {
  const r = await runSft(env.client, queue, sftRecipe(data, out), 'sft-a');
  const expectedGood = 2 * data.goodPerFile;
  assert.equal(r.counts.accepted, expectedGood);
  assert.equal(r.tokens.rows, expectedGood);
  const planted = { ...data.bad.parquet, ...data.bad.jsonl };
  assert.deepEqual(r.counts.rejectedByReason, planted);
  const rejects = await read(r.rejects.path);
  assert.equal(rejects.length, Object.values(planted).reduce((a, b) => a + b, 0));
  assert.deepEqual(rejects.map((x) => [x.file.split('/').pop(), x.row, x.kind]), [
    ['train.parquet', 8, 'bad_role'], ['train.parquet', 9, 'tool_result_without_call'], ['train.parquet', 10, 'no_assistant_turn'],
    ['train.parquet', 11, 'empty_after_truncation'], ['train.jsonl', 8, 'unparseable_arguments'], ['train.jsonl', 9, 'roles_out_of_order'],
    ['train.jsonl', 10, 'invalid_json'],
  ]);
  assert.ok(r.counts.truncated > 0, 'rows longer than max_length are cut and counted');

  const metrics = await read(r.metrics.path);
  assert.equal(r.counts.stepsPerEpoch, Math.ceil(expectedGood / 4));
  assert.deepEqual(metrics.map((m) => m.step), Array.from({ length: r.counts.steps }, (_, i) => i + 1), 'one row per optimizer step');
  const epochLoss = (e: number) => { const ls = metrics.filter((m) => m.epoch === e).map((m) => m.loss); return ls.reduce((a, b) => a + b, 0) / ls.length; };
  assert.ok(epochLoss(2) < epochLoss(0) * 0.9, `loss falls: epoch 1 ${epochLoss(0)}, epoch 3 ${epochLoss(2)}`);
  for (const m of metrics) assert.ok(m.tokens >= m.trained_tokens && m.trained_tokens > 0 && m.tokens_per_s > 0 && m.grad_norm > 0);
  assert.equal(metrics[0].lr, 0, 'cosine warm-up starts at 0');

  // The exported directory: the engine loads it, its weights are the final checkpoint's, and so are its log-probs.
  const exported = await loadCheckpoint(r.model.dir);
  const final = await loadTrainCheckpoint(r.checkpoint);
  assert.equal(modelDigest(exported.config, exported.weights), modelDigest(final.config, final.weights));
  assert.equal(r.modelDigest, modelDigest(final.config, final.weights));
  assert.notEqual(r.modelDigest, r.baseModelDigest, 'training changed the weights');
  const row = (await readTokenRows(r.tokens.path))[0];
  const a = await Learner.create(exported.config, exported.weights);
  const b = await Learner.create(final.config, final.weights);
  const la = await a.logProbs({ inputIds: [Array.from(row.ids)] });
  const lb = await b.logProbs({ inputIds: [Array.from(row.ids)] });
  assert.deepEqual(la.logp, lb.logp);
  await a.close();
  await b.close();

  const audit = JSON.parse(readFileSync(r.audit.path, 'utf8')) as StageAudit<SftCounts>;
  assert.equal(audit.stage, 'sft');
  assert.equal(audit.inputs.sft_data.length, 2);
  assert.match(audit.inputs.sft_data[0].sha256, /^[0-9a-f]{64}$/);
  assert.ok(audit.inputs.model.some((f) => f.path.endsWith('tokenizer.json')));
  assert.deepEqual(audit.counts.rejectedByReason, planted);
  assert.equal(audit.model?.output_digest, r.modelDigest);
  assert.equal(audit.model?.base_digest, r.baseModelDigest);
  assert.equal((audit.model?.checkpoint as { sha256: string }).sha256, r.checkpoint.sha256);
  assert.deepEqual(audit.timings.map((t) => t.step), ['prepare', 'tokenize', 'load model', 'train', 'export']);
  assert.match(audit.recipeHash, /^[0-9a-f]{64}$/);

  const d = await env.client.workflow.getHandle('sft-a').describe();
  const memo = d.memo?.sft as { state: string; step: number; last: { loss: number } };
  assert.equal(memo.state, 'done');
  assert.equal(memo.step, r.counts.steps);
  assert.equal(memo.last.loss, metrics.at(-1).loss);
});

test('the same recipe twice: byte-identical checkpoints and model files', async () => {
  const recipe = sftRecipe(data, out, { epochs: 2 });
  const a = await runSft(env.client, queue, recipe, 'sft-det-a');
  const b = await runSft(env.client, queue, recipe, 'sft-det-b');
  assert.equal(b.checkpoint.sha256, a.checkpoint.sha256);
  assert.deepEqual(b.model.files.map((f) => f.sha256), a.model.files.map((f) => f.sha256));
  assert.equal(b.tokens.sha256, a.tokens.sha256);
});

test('a model that cannot fit fails at once with the numbers, not retried', async () => {
  const recipe = sftRecipe(data, out, { memory_limit_gb: 0.001 });
  await assert.rejects(runSft(env.client, queue, recipe, 'sft-oom'), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError);
    let e: any = err;
    while (e.cause) e = e.cause;
    assert.match(e.message, /memory check before training: .*needs about .* GiB .*more than the 0\.001 GiB allowed/);
    return true;
  });
});
