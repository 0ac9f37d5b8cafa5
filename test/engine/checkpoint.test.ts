import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, cpSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, saveCheckpoint } from '../../engine/checkpoint.ts';
import { encodeSafetensors, readSafetensors } from '../../engine/safetensors.ts';
import type { Weights } from '../../engine/tensors.ts';

const FIXTURES = new URL('../fixtures/engine/', import.meta.url).pathname;

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function assertSameWeights(a: Weights, b: Weights, label: string): void {
  assert.deepEqual([...a.keys()], [...b.keys()], `${label}: names/order`);
  for (const [name, t] of a) {
    assert.deepEqual(b.get(name)!.shape, t.shape, `${label}: ${name} shape`);
    assert.deepEqual(bits(b.get(name)!.data), bits(t.data), `${label}: ${name} bits`);
  }
}

function withTmp(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function dirBytes(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));
}

test('f32 round trip: load -> save -> load is bit-identical, and saving twice gives identical bytes', withTmp(async (tmp) => {
  for (const name of ['qwen3_tied', 'qwen3_untied']) {
    const ck = await loadCheckpoint(`${FIXTURES}${name}`);
    const raw = await readSafetensors(`${FIXTURES}${name}/model.safetensors`);
    for (const [n, t] of ck.weights) assert.deepEqual(bits(t.data), bits(raw.tensors.get(n)!.data), n);
    assert.equal(ck.weights.has('lm_head.weight'), name === 'qwen3_untied');

    const a = join(tmp, `${name}-a`);
    const b = join(tmp, `${name}-b`);
    await saveCheckpoint(a, { ...ck, dtype: 'f32' });
    await saveCheckpoint(b, { ...ck, dtype: 'f32' });
    const again = await loadCheckpoint(a);
    assertSameWeights(ck.weights, again.weights, name);
    assert.deepEqual(again.config, ck.config);
    assert.deepEqual(dirBytes(a), dirBytes(b), 'deterministic bytes');
    assert.deepEqual(readdirSync(a).sort(), ['config.json', 'model.safetensors']);
    // Extra config fields of the source survive the re-save.
    assert.deepEqual(JSON.parse(readFileSync(join(a, 'config.json'), 'utf8')).layer_types, ['full_attention', 'full_attention']);
  }
}));

test('bf16 path: saving as bf16 rounds like torch, and a bf16 round trip is bit-identical', withTmp(async (tmp) => {
  const ck = await loadCheckpoint(`${FIXTURES}qwen3_tied`);
  await saveCheckpoint(join(tmp, 'one'), { ...ck, dtype: 'bf16' });
  const once = await loadCheckpoint(join(tmp, 'one'));
  const torchBf16 = await loadCheckpoint(`${FIXTURES}qwen3_tied_bf16_sharded`);
  assertSameWeights(torchBf16.weights, once.weights, 'ours vs torch bf16');
  await saveCheckpoint(join(tmp, 'two'), { ...once, dtype: 'bf16' });
  assertSameWeights(once.weights, (await loadCheckpoint(join(tmp, 'two'))).weights, 'bf16 -> bf16');
  assert.equal(JSON.parse(readFileSync(join(tmp, 'two', 'config.json'), 'utf8')).torch_dtype, 'bfloat16');
  assert.deepEqual(dirBytes(join(tmp, 'one')), dirBytes(join(tmp, 'two')));
}));

test('sharded checkpoints load, save sharded with an HF index, and re-saving unsharded removes stale shards', withTmp(async (tmp) => {
  const ck = await loadCheckpoint(`${FIXTURES}qwen3_untied`);
  const dir = join(tmp, 'sharded');
  await saveCheckpoint(dir, { ...ck, dtype: 'f32', maxShardBytes: 20_000 });
  const files = readdirSync(dir).sort();
  const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
  assert.ok(shards.length >= 3, `expected several shards, got ${files.join(', ')}`);
  const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
  assert.deepEqual(Object.keys(index.weight_map).sort(), [...ck.weights.keys()].sort());
  assert.equal(index.metadata.total_size, [...ck.weights.values()].reduce((s, t) => s + t.data.length * 4, 0));
  assertSameWeights(ck.weights, (await loadCheckpoint(dir)).weights, 'sharded f32');

  await saveCheckpoint(dir, { ...ck, dtype: 'bf16' });
  assert.deepEqual(readdirSync(dir).sort(), ['config.json', 'model.safetensors']);
  const bf = await loadCheckpoint(dir);
  await saveCheckpoint(dir, { ...bf, dtype: 'bf16', maxShardBytes: 8_000 });
  assert.ok(!readdirSync(dir).includes('model.safetensors'));
  assertSameWeights(bf.weights, (await loadCheckpoint(dir)).weights, 'sharded bf16');
}));

test('a tied checkpoint that also stores lm_head.weight loads (the head is the embedding)', withTmp(async (tmp) => {
  const ck = await loadCheckpoint(`${FIXTURES}qwen3_tied`);
  cpSync(`${FIXTURES}qwen3_tied/config.json`, join(tmp, 'config.json'));
  const withHead: Weights = new Map([...ck.weights, ['lm_head.weight', ck.weights.get('model.embed_tokens.weight')!]]);
  writeFileSync(join(tmp, 'model.safetensors'), encodeSafetensors(withHead, { dtype: 'F32' }));
  const loaded = await loadCheckpoint(tmp);
  assert.ok(!loaded.weights.has('lm_head.weight'));
  assertSameWeights(ck.weights, loaded.weights, 'tied with head');
  await assert.rejects(saveCheckpoint(join(tmp, 'out'), { ...ck, weights: withHead, dtype: 'f32' }), /unexpected tensor "lm_head.weight" \(tie_word_embeddings is true/);
}));

test('inconsistent checkpoints fail naming the file and tensor', withTmp(async (tmp) => {
  const ck = await loadCheckpoint(`${FIXTURES}qwen3_untied`);
  const setup = (name: string, weights: Weights, config?: Record<string, unknown>): string => {
    const dir = join(tmp, name);
    cpSync(`${FIXTURES}qwen3_untied`, dir, { recursive: true });
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(weights, { dtype: 'F32' }));
    if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  };
  const missing = new Map(ck.weights);
  missing.delete('model.layers.1.mlp.up_proj.weight');
  await assert.rejects(loadCheckpoint(setup('missing', missing)), /tensor "model.layers.1.mlp.up_proj.weight" required by config.json is missing/);

  const extra: Weights = new Map([...ck.weights, ['model.layers.2.mlp.up_proj.weight', ck.weights.get('model.layers.1.mlp.up_proj.weight')!]]);
  await assert.rejects(loadCheckpoint(setup('extra', extra)), /model\.safetensors: unexpected tensor "model.layers.2.mlp.up_proj.weight"/);

  const wide = { ...JSON.parse(readFileSync(`${FIXTURES}qwen3_untied/config.json`, 'utf8')), intermediate_size: 41 };
  await assert.rejects(loadCheckpoint(setup('shape', ck.weights, wide)), /model\.safetensors: tensor "model.layers.0.mlp.gate_proj.weight" has shape \[40,24\] but config.json implies \[41,24\]/);

  const empty = join(tmp, 'empty');
  cpSync(`${FIXTURES}qwen3_untied/config.json`, join(empty, 'config.json'));
  await assert.rejects(loadCheckpoint(empty), /no model\.safetensors or model\.safetensors\.index\.json found/);
}));

test('a bad shard index fails naming the index or shard', withTmp(async (tmp) => {
  const base = `${FIXTURES}qwen3_tied_bf16_sharded`;
  const index = JSON.parse(readFileSync(`${base}/model.safetensors.index.json`, 'utf8'));
  const variant = async (name: string, mutate: (map: Record<string, string>) => void, re: RegExp): Promise<void> => {
    const dir = join(tmp, name);
    cpSync(base, dir, { recursive: true });
    const copy = structuredClone(index);
    mutate(copy.weight_map);
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(copy));
    await assert.rejects(loadCheckpoint(dir), re, name);
  };
  await variant('escape', (m) => { m['model.norm.weight'] = '../model.safetensors'; }, /weight_map\["model.norm.weight"\] must be a file name inside the checkpoint directory/);
  await variant('absent', (m) => { m['model.norm.weight'] = 'model-00009-of-00009.safetensors'; }, /index\.json: shard "model-00009-of-00009\.safetensors" \(holding "model.norm.weight"\) does not exist/);
  await variant('moved', (m) => { m['model.norm.weight'] = 'model-00001-of-00003.safetensors'; }, /model-00001-of-00003\.safetensors: tensor "model.norm.weight" is listed for this shard/);
  await variant('unlisted', (m) => { delete m['model.norm.weight']; }, /model-00003-of-00003\.safetensors: tensor "model.norm.weight" is not assigned to this shard/);
}));
