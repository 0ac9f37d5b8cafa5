// The training foundations (training/) on real files: model directories in every layout, digests, checkpoints
// that prove their bytes, an export that transformers loads as it is, the metrics table, schedules, data order.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Learner } from '../../engine/learner.ts';
import { loadCheckpoint } from '../../engine/checkpoint.ts';
import { qwen3ParamShapes } from '../../engine/config.ts';
import { Rng } from '../../engine/rng.ts';
import type { Weights } from '../../engine/tensors.ts';
import {
  checkTrainingMemory, epochOrder, exportHfModel, loadBaseModel, loadTrainCheckpoint, lrAt, MetricsLog, modelDigest, packMicroBatches,
  rowDigest, saveTrainCheckpoint, writeMetricsParquet,
} from '../../training/index.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';

const TINY = join(PROJECT_ROOT, 'recipes/models/tiny');
const FIX = join(PROJECT_ROOT, 'test/fixtures/engine');
const PY = join(PROJECT_ROOT, '.tools/py/bin/python');

test('a model directory loads single, sharded bf16 and f16; a directory without weights needs init_seed', async () => {
  const f32 = await loadBaseModel(join(FIX, 'qwen3_tied'));
  const bf16 = await loadBaseModel(join(FIX, 'qwen3_tied_bf16_sharded'));
  const f16 = await loadBaseModel(join(FIX, 'qwen3_tied_f16'));
  assert.deepEqual([f32.dtype, bf16.dtype, f16.dtype], ['f32', 'bf16', 'f16']);
  assert.equal(bf16.files.length, 4); // 3 shards + the index
  assert.notEqual(modelDigest(f32.config, f32.weights), modelDigest(bf16.config, bf16.weights));
  await assert.rejects(loadBaseModel(TINY), /has no \*\.safetensors weights: set model\.init_seed/);
  await assert.rejects(loadBaseModel(join(FIX, 'qwen3_tied'), 3), /init_seed applies only to a directory without weights/);
  const a = await loadBaseModel(TINY, 7);
  const b = await loadBaseModel(TINY, 7);
  const c = await loadBaseModel(TINY, 8);
  assert.equal(a.dtype, 'init');
  assert.equal(modelDigest(a.config, a.weights), modelDigest(b.config, b.weights));
  assert.notEqual(modelDigest(a.config, a.weights), modelDigest(c.config, c.weights));
});

function zeros(shapes: Map<string, number[]>): Weights {
  return new Map([...shapes].map(([n, s]) => [n, { shape: s, data: new Float32Array(s.reduce((x, y) => x * y, 1)) }]));
}

test('checkpoints are content-addressed, reproducible, and refuse a tampered file', async () => {
  const root = mkdtempSync(join(tmpdir(), 'agentrl-ckpt-'));
  const base = await loadBaseModel(TINY, 1);
  const shapes = qwen3ParamShapes(base.config);
  const ckpt = {
    config: base.config, rawConfig: base.rawConfig, weights: base.weights, step: 3, position: { epoch: 1, batch: 0 }, extra: { note: 'x' },
    state: { step: 3, optimizer: { m: zeros(shapes), v: zeros(shapes) }, rng: Rng.fromSeed(1, 'learner').state() },
  };
  const ref = await saveTrainCheckpoint(root, ckpt);
  const again = await saveTrainCheckpoint(root, ckpt);
  assert.deepEqual(again, ref, 'the same state saves to the same name and digest');
  assert.match(ref.path, /step-0000003-[0-9a-f]{12}$/);
  const back = await loadTrainCheckpoint(ref);
  assert.deepEqual(back.position, { epoch: 1, batch: 0 });
  assert.equal(back.extra.note, 'x');
  assert.equal(modelDigest(back.config, back.weights), modelDigest(base.config, base.weights));

  await assert.rejects(loadTrainCheckpoint({ ...ref, sha256: '0'.repeat(64) }), /manifest sha256 .* != referenced/);
  const tampered = mkdtempSync(join(tmpdir(), 'agentrl-ckpt-bad-'));
  cpSync(ref.path, tampered, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(tampered, 'training_state.json'), 'utf8'));
  cfg.step = 4;
  writeFileSync(join(tampered, 'training_state.json'), JSON.stringify(cfg));
  await assert.rejects(loadTrainCheckpoint({ ...ref, path: tampered }), /file training_state\.json differs from its manifest/);
});

test('the HF export loads in transformers as it is, with the engine\'s log-probs and the chat template', async () => {
  const out = mkdtempSync(join(tmpdir(), 'agentrl-export-'));
  const base = await loadBaseModel(TINY, 5);
  const files = await exportHfModel({ outDir: out, config: base.config, rawConfig: base.rawConfig, weights: base.weights, dtype: 'f32', tokenizerDir: TINY });
  assert.deepEqual(files.map((f) => f.name), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  const back = await loadCheckpoint(out);
  assert.equal(modelDigest(back.config, back.weights), modelDigest(base.config, base.weights));

  const ids = [504, 10, 20, 30, 40, 50, 505, 60];
  const learner = await Learner.create(base.config, base.weights);
  const { logp } = await learner.logProbs({ inputIds: [ids] });
  await learner.close();
  const res = spawnSync(PY, [join(PROJECT_ROOT, 'test/sft/hf_logprobs.py'), out, JSON.stringify(ids)], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const hf = JSON.parse(res.stdout.trim().split('\n').at(-1)!) as { logp: number[]; chat: string; eos: number; vocab: number };
  hf.logp.forEach((x, i) => assert.ok(Math.abs(x - logp[0][i]) < 1e-4, `position ${i}: transformers ${x} vs engine ${logp[0][i]}`));
  assert.match(hf.chat, /<\|im_start\|>assistant\nok<\|im_end\|>/);
  assert.equal(hf.eos, 505, 'generation stops at the eos_token of tokenizer_config.json (<|im_end|> in the tiny model)');
});

test('metrics: one row per step after a resume drops the steps it runs again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'agentrl-metrics-'));
  const row = (step: number, loss: number) => ({ step, epoch: 0, loss, grad_norm: 1, lr: 1e-3, tokens: 10, trained_tokens: 5, seconds: 0.1, tokens_per_s: 100 });
  const log = await MetricsLog.open(join(dir, 'm.jsonl'), 0);
  for (let s = 1; s <= 5; s++) await log.append(row(s, 10 - s));
  const resumed = await MetricsLog.open(join(dir, 'm.jsonl'), 3); // the checkpoint was at step 3
  assert.deepEqual(resumed.all.map((r) => r.step), [1, 2, 3]);
  await resumed.append(row(4, 0.5));
  await resumed.append(row(5, 0.25));
  const written = await writeMetricsParquet(join(dir, 'metrics.parquet'), resumed.all);
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(join(dir, 'metrics.parquet')), compressors })) as any[];
  assert.equal(written.rows, 5);
  assert.deepEqual(rows.map((r) => [r.step, r.loss]), [[1, 9], [2, 8], [3, 7], [4, 0.5], [5, 0.25]]);
  assert.deepEqual(Object.keys(rows[0]), ['step', 'epoch', 'loss', 'grad_norm', 'lr', 'tokens', 'trained_tokens', 'seconds', 'tokens_per_s']);
});

test('schedules: cosine with warm-up as transformers, constant', () => {
  const s = { kind: 'cosine' as const, warmup_ratio: 0.1 };
  assert.equal(lrAt(0, 100, 1, s), 0);
  assert.equal(lrAt(5, 100, 1, s), 0.5);
  assert.equal(lrAt(10, 100, 1, s), 1);
  assert.ok(Math.abs(lrAt(55, 100, 1, s) - 0.5) < 1e-12);
  assert.ok(lrAt(99, 100, 1, s) < 0.001);
  assert.equal(lrAt(42, 100, 2e-5, { kind: 'constant' }), 2e-5);
});

test('epoch order depends on seed, epoch and content, not on where rows came from; batches pack by length', () => {
  const rows = Array.from({ length: 9 }, (_, i) => ({ ids: Int32Array.from({ length: 3 + i }, (_, k) => k + i), mask: Int8Array.from({ length: 3 + i }, () => 1) }));
  const digests = rows.map(rowDigest);
  const order = epochOrder(1, 0, digests).map((i) => digests[i]);
  const reversed = [...digests].reverse();
  assert.deepEqual(epochOrder(1, 0, reversed).map((i) => reversed[i]), order, 'same content order whatever the input order');
  assert.notDeepEqual(epochOrder(1, 1, digests).map((i) => digests[i]), order, 'each epoch reshuffles');
  assert.notDeepEqual(epochOrder(2, 0, digests).map((i) => digests[i]), order, 'the seed decides');

  const micro = packMicroBatches(rows, 24);
  assert.deepEqual(micro.map((m) => m.inputIds.map((r) => r.length)), [[11, 10], [9, 8], [7, 6, 5], [4, 3]]);
  assert.deepEqual(micro[3].lossMask[1], [1, 1, 0], 'the mask moves to the position that predicts the token');
});

test('the memory check refuses a plan that cannot fit, with the numbers', async () => {
  const base = await loadBaseModel(TINY, 1);
  assert.ok(checkTrainingMemory(base.config, { longestRow: 256, microTokens: 4096 }).bytes > 0);
  assert.throws(() => checkTrainingMemory(base.config, { longestRow: 4096, microTokens: 4096, limit: 2 ** 20 }),
    /memory check before training: .*1 rows x 4096 tokens.* needs about .* GiB .*attention .*vocabulary head .*more than the 0\.001 GiB allowed/);
});
