import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseQwen3Config, readQwen3Config, toHfConfig, qwen3ParamShapes } from '../../engine/config.ts';
import { readSafetensorsHeader } from '../../engine/safetensors.ts';

const FIXTURES = new URL('../fixtures/engine/', import.meta.url).pathname;
const base = { model_type: 'qwen3', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 192, vocab_size: 512 };

test('parses a config.json written by transformers (head_dim differs from hidden/heads)', async () => {
  const { config } = await readQwen3Config(`${FIXTURES}qwen3_untied/config.json`);
  assert.deepEqual(config, {
    hiddenSize: 24, numHiddenLayers: 2, numAttentionHeads: 6, numKeyValueHeads: 2, headDim: 8, intermediateSize: 40,
    vocabSize: 48, ropeTheta: 10000, rmsNormEps: 1e-6, tieWordEmbeddings: false, maxPositionEmbeddings: 128,
  });
});

test('the embedded tiny model config has the documented shape', async () => {
  const { config } = await readQwen3Config(new URL('../../recipes/models/tiny/config.json', import.meta.url).pathname);
  assert.deepEqual(config, {
    hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, numKeyValueHeads: 2, headDim: 32, intermediateSize: 192,
    vocabSize: 512, ropeTheta: 1e6, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 4096,
  });
});

test('absent fields take transformers defaults: head_dim = hidden/heads, kv heads = heads', () => {
  const c = parseQwen3Config(base);
  assert.equal(c.headDim, 16);
  assert.equal(c.numKeyValueHeads, 4);
  assert.equal(c.ropeTheta, 10000);
  assert.equal(c.tieWordEmbeddings, false);
  assert.equal(c.maxPositionEmbeddings, 32768);
});

test('invalid or unsupported fields fail with the file and field named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...base, hidden_size: undefined }, /my\.json: field "hidden_size" is required/],
    [{ ...base, hidden_size: 64.5 }, /field "hidden_size" must be a positive integer/],
    [{ ...base, vocab_size: -3 }, /field "vocab_size" must be a positive integer/],
    [{ ...base, model_type: 'llama' }, /field "model_type" must be "qwen3"/],
    [{ ...base, num_key_value_heads: 3 }, /field "num_key_value_heads" \(3\) must divide num_attention_heads \(4\)/],
    [{ ...base, hidden_size: 66 }, /field "head_dim" is absent and hidden_size \(66\) is not divisible/],
    [{ ...base, head_dim: 7 }, /field "head_dim" must be even/],
    [{ ...base, rope_scaling: { type: 'yarn', factor: 4 } }, /field "rope_scaling" is not supported/],
    [{ ...base, attention_bias: true }, /field "attention_bias" must be false/],
    [{ ...base, use_sliding_window: true }, /field "use_sliding_window" must be false/],
    [{ ...base, hidden_act: 'gelu' }, /field "hidden_act" must be "silu"/],
    [{ ...base, rope_theta: 'big' }, /field "rope_theta" must be a positive finite number/],
    [{ ...base, tie_word_embeddings: 'yes' }, /field "tie_word_embeddings" must be a boolean/],
  ];
  for (const [raw, re] of cases) assert.throws(() => parseQwen3Config(raw, 'my.json'), re, JSON.stringify(raw));
  assert.throws(() => parseQwen3Config([1, 2], 'my.json'), /my\.json: expected a JSON object/);
});

test('toHfConfig round-trips through the parser, keeps extra fields and sorts keys', () => {
  const raw = JSON.parse(readFileSync(`${FIXTURES}qwen3_tied/config.json`, 'utf8'));
  const cfg = parseQwen3Config(raw);
  const out = toHfConfig(cfg, 'bfloat16', { ...raw, eos_token_id: 7 });
  assert.deepEqual(parseQwen3Config(out), cfg);
  assert.equal(out.eos_token_id, 7);
  assert.equal(out.torch_dtype, 'bfloat16');
  assert.equal(out.dtype, 'bfloat16'); // the source used transformers' newer spelling: keep it in step
  assert.deepEqual(Object.keys(out), Object.keys(out).slice().sort());
});

test('qwen3ParamShapes lists exactly the tensors transformers saves, with their shapes', async () => {
  for (const name of ['qwen3_tied', 'qwen3_untied']) {
    const { config } = await readQwen3Config(`${FIXTURES}${name}/config.json`);
    const header = await readSafetensorsHeader(`${FIXTURES}${name}/model.safetensors`);
    const fromFile = new Map(header.tensors.map((t) => [t.name, t.shape]));
    const expected = qwen3ParamShapes(config);
    assert.deepEqual([...expected.keys()].sort(), [...fromFile.keys()].sort(), name);
    for (const [n, shape] of expected) assert.deepEqual(fromFile.get(n), shape, `${name} ${n}`);
  }
});
