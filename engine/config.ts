// Hugging Face Qwen3 config.json <-> the engine's camelCase Qwen3Config. Parsing is strict about what the engine
// cannot honour (biases, rope scaling, sliding windows, other activations) so a checkpoint the engine would run
// wrongly fails at load with the offending field named, instead of training silently on a different model.
import { readFile } from 'node:fs/promises';

export interface Qwen3Config {
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  intermediateSize: number;
  vocabSize: number;
  ropeTheta: number;
  rmsNormEps: number;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
}

type Json = Record<string, unknown>;

function fail(source: string, field: string, why: string): never {
  throw new Error(`${source}: field "${field}" ${why}`);
}

function positiveInt(raw: Json, field: string, source: string, fallback?: number): number {
  const v = raw[field] ?? fallback;
  if (v === undefined) fail(source, field, 'is required');
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(source, field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function positiveNumber(raw: Json, field: string, source: string, fallback: number): number {
  const v = raw[field] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(source, field, `must be a positive finite number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Validates an HF config.json object. `source` names the file in error messages. Defaults follow transformers'
 * Qwen3Config where a field is absent: num_key_value_heads = num_attention_heads, head_dim = hidden/heads,
 * rope_theta 10000, rms_norm_eps 1e-6, tie_word_embeddings false, max_position_embeddings 32768.
 */
export function parseQwen3Config(raw: unknown, source = 'config.json'): Qwen3Config {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${source}: expected a JSON object`);
  const c = raw as Json;
  if (c.model_type !== 'qwen3') fail(source, 'model_type', `must be "qwen3", got ${JSON.stringify(c.model_type)}`);

  const hiddenSize = positiveInt(c, 'hidden_size', source);
  const numAttentionHeads = positiveInt(c, 'num_attention_heads', source);
  const numKeyValueHeads = positiveInt(c, 'num_key_value_heads', source, numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    fail(source, 'num_key_value_heads', `(${numKeyValueHeads}) must divide num_attention_heads (${numAttentionHeads})`);
  }
  let headDim: number;
  if (c.head_dim === undefined || c.head_dim === null) {
    if (hiddenSize % numAttentionHeads !== 0) {
      fail(source, 'head_dim', `is absent and hidden_size (${hiddenSize}) is not divisible by num_attention_heads (${numAttentionHeads})`);
    }
    headDim = hiddenSize / numAttentionHeads;
  } else {
    headDim = positiveInt(c, 'head_dim', source);
  }
  // Rotary embedding rotates pairs (rotate-half form): an odd head_dim has no valid split.
  if (headDim % 2 !== 0) fail(source, 'head_dim', `must be even for rotary embeddings, got ${headDim}`);

  const tie = c.tie_word_embeddings ?? false;
  if (typeof tie !== 'boolean') fail(source, 'tie_word_embeddings', `must be a boolean, got ${JSON.stringify(tie)}`);
  if (c.attention_bias !== undefined && c.attention_bias !== false) fail(source, 'attention_bias', 'must be false: biased q/k/v/o projections are not supported');
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) fail(source, 'rope_scaling', `is not supported (got ${JSON.stringify(c.rope_scaling)}); only plain RoPE`);
  if (c.use_sliding_window === true) fail(source, 'use_sliding_window', 'must be false: sliding-window attention is not supported');
  if (c.hidden_act !== undefined && c.hidden_act !== 'silu') fail(source, 'hidden_act', `must be "silu", got ${JSON.stringify(c.hidden_act)}`);

  return {
    hiddenSize,
    numHiddenLayers: positiveInt(c, 'num_hidden_layers', source),
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    intermediateSize: positiveInt(c, 'intermediate_size', source),
    vocabSize: positiveInt(c, 'vocab_size', source),
    ropeTheta: positiveNumber(c, 'rope_theta', source, 10000),
    rmsNormEps: positiveNumber(c, 'rms_norm_eps', source, 1e-6),
    tieWordEmbeddings: tie,
    maxPositionEmbeddings: positiveInt(c, 'max_position_embeddings', source, 32768),
  };
}

export async function readQwen3Config(path: string): Promise<{ config: Qwen3Config; raw: Json }> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read config (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON (${(err as Error).message})`);
  }
  return { config: parseQwen3Config(raw, path), raw: raw as Json };
}

/**
 * The HF config.json object for `cfg`. Keys of `base` (a loaded config's extra fields such as token ids) are kept
 * unless the engine's own fields override them; keys come out sorted so the file is byte-stable.
 */
export function toHfConfig(cfg: Qwen3Config, dtype: 'float32' | 'bfloat16', base: Json = {}): Json {
  const merged: Json = {
    ...base,
    architectures: ['Qwen3ForCausalLM'],
    model_type: 'qwen3',
    hidden_size: cfg.hiddenSize,
    num_hidden_layers: cfg.numHiddenLayers,
    num_attention_heads: cfg.numAttentionHeads,
    num_key_value_heads: cfg.numKeyValueHeads,
    head_dim: cfg.headDim,
    intermediate_size: cfg.intermediateSize,
    vocab_size: cfg.vocabSize,
    rope_theta: cfg.ropeTheta,
    rms_norm_eps: cfg.rmsNormEps,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    max_position_embeddings: cfg.maxPositionEmbeddings,
    hidden_act: 'silu',
    attention_bias: false,
    torch_dtype: dtype,
  };
  // transformers >= 4.56 writes `dtype`; keep whichever spelling the source used in step with the written files.
  if ('dtype' in base) merged.dtype = dtype;
  return Object.fromEntries(Object.keys(merged).sort().map((k) => [k, merged[k]]));
}

/** Every parameter a Qwen3ForCausalLM has, HF name -> shape ([out, in] for linear layers), in canonical order. */
export function qwen3ParamShapes(cfg: Qwen3Config): Map<string, number[]> {
  const h = cfg.hiddenSize;
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [cfg.vocabSize, h]);
  for (let i = 0; i < cfg.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.input_layernorm.weight`, [h]);
    shapes.set(`${p}.self_attn.q_proj.weight`, [cfg.numAttentionHeads * cfg.headDim, h]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [cfg.numKeyValueHeads * cfg.headDim, h]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [cfg.numKeyValueHeads * cfg.headDim, h]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [h, cfg.numAttentionHeads * cfg.headDim]);
    shapes.set(`${p}.self_attn.q_norm.weight`, [cfg.headDim]);
    shapes.set(`${p}.self_attn.k_norm.weight`, [cfg.headDim]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [h]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [cfg.intermediateSize, h]);
    shapes.set(`${p}.mlp.up_proj.weight`, [cfg.intermediateSize, h]);
    shapes.set(`${p}.mlp.down_proj.weight`, [h, cfg.intermediateSize]);
  }
  shapes.set('model.norm.weight', [h]);
  if (!cfg.tieWordEmbeddings) shapes.set('lm_head.weight', [cfg.vocabSize, h]);
  return shapes;
}
