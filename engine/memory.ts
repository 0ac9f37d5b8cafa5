// About how much memory one learner pass over a micro-batch, or one sampler step, takes, so that work that
// cannot fit is refused with an error that says why, before anything runs. Without it, a long or wide
// micro-batch (or too many long sequences in a sampler) makes onnxruntime allocate until the kernel's OOM
// killer ends the worker process, and the run stops with no trace of the cause.
//
// The terms are the ones that grow with the batch, each calibrated from the peak RSS of a train step (tiny
// model, one row of 2,048 and 4,096 tokens, bench/engine; P = one layer's attention probabilities,
// rows x heads x T^2 x 4 bytes): the fused path keeping every layer's P peaked at (layers + 3) P, recomputing
// them at ~4 P, the explicit masked form at (layers + 4) P. The estimate is a floor, not an account: arenas and
// fragmentation come on top.
import type { Qwen3Config } from './config.ts';
import { qwen3ParamShapes } from './config.ts';
import { attentionLayersHeld } from './attention-choice.ts';
import type { AttentionKind } from './attention-choice.ts';

export interface PassShape {
  rows: number;
  /** Tokens per row (the padded length). */
  cols: number;
  /** Positions the vocabulary head runs at (loss tokens, or scored tokens). */
  headRows: number;
}

export interface PassBytes {
  attention: number;
  /** logits and probabilities over the vocabulary at the head rows. */
  head: number;
  /** The residual stream, projections and MLP activations kept for the backward. */
  activations: number;
  /** Weights, and in a train step their gradients and both AdamW moments. */
  state: number;
  total: number;
}

/** About how many bytes a train step or a scoring pass of `shape` takes, with floats of `f` bytes. */
export function passBytes(cfg: Qwen3Config, shape: PassShape, kind: AttentionKind, use: 'train' | 'score', f = 4): PassBytes {
  const tokens = shape.rows * shape.cols;
  const oneLayer = shape.rows * cfg.numAttentionHeads * shape.cols ** 2 * f;
  const attention = attentionLayersHeld(cfg.numHiddenLayers, kind, use) * oneLayer;
  const head = 3 * shape.headRows * cfg.vocabSize * f;
  const perToken = 12 * cfg.hiddenSize + (cfg.numAttentionHeads + 2 * cfg.numKeyValueHeads) * cfg.headDim * 2 + 5 * cfg.intermediateSize;
  const activations = (use === 'train' ? cfg.numHiddenLayers : 1) * tokens * perToken * f;
  const params = [...qwen3ParamShapes(cfg).values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const state = params * f * (use === 'train' ? 4 : 1);
  return { attention, head, activations, state, total: attention + head + activations + state };
}

const GIB = 2 ** 30;

/** Bytes as GiB for error messages (three decimals below 1 GiB). */
export function gib(n: number): string {
  return (n / GIB).toFixed(n < GIB ? 3 : 1);
}

/** An error naming the micro-batch, what it would take and the limit, or null when it fits. */
export function overLimit(what: string, shape: PassShape, kind: AttentionKind, bytes: PassBytes, limit: number): Error | null {
  if (bytes.total <= limit) return null;
  return new Error(
    `learner: ${what} (${shape.rows} rows x ${shape.cols} tokens, ${kind} attention) needs about ${gib(bytes.total)} GiB ` +
      `(attention ${gib(bytes.attention)}, vocabulary head ${gib(bytes.head)}, activations ${gib(bytes.activations)}, weights and optimizer ${gib(bytes.state)}), ` +
      `more than the ${gib(limit)} GiB allowed (LearnerOptions.memoryLimit); split it into micro-batches of fewer rows or shorter sequences`,
  );
}

export interface SamplerStep {
  cacheRows: number;
  slots: number;
  rows: number;
  tokens: number;
  prefill: boolean;
  blocks: number;
}

/**
 * About how many bytes a sampler step takes: the KV cache (every layer's keys and values for `cacheRows` rows of
 * `slots` slots), the weights, and the step's attention scores for `rows` rows of `tokens` new tokens: the
 * decode program's explicit form keeps ~3 [rows, heads, tokens, slots + tokens] tensors alive, the fused prefill
 * one [rows, heads, tokens, tokens] (of one of `blocks` query blocks).
 */
export function samplerBytes(cfg: Qwen3Config, step: SamplerStep, f = 4): { cache: number; scores: number; weights: number; total: number } {
  const { cacheRows, slots, rows, tokens } = step;
  const cache = cfg.numHiddenLayers * cacheRows * 2 * cfg.numKeyValueHeads * cfg.headDim * slots * f;
  const perRow = step.prefill ? (tokens * tokens) / Math.max(1, step.blocks) : 3 * tokens * (slots + tokens);
  const scores = rows * cfg.numAttentionHeads * perRow * f;
  const weights = [...qwen3ParamShapes(cfg).values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) * f;
  return { cache, scores, weights, total: cache + scores + weights };
}

/** The sampler's error for a cache and step that would not fit in `limit` bytes (null when it fits), naming them. */
export function samplerOverLimit(cfg: Qwen3Config, step: SamplerStep, f: number, limit: number): Error | null {
  const bytes = samplerBytes(cfg, step, f);
  if (bytes.total <= limit) return null;
  return new Error(
    `sampler: ${step.cacheRows} cache rows x ${step.slots} cache slots, a step of ${step.rows} x ${step.tokens} new tokens, need about ${gib(bytes.total)} GiB ` +
      `(KV cache ${gib(bytes.cache)}, attention scores ${gib(bytes.scores)}, weights ${gib(bytes.weights)}), more than the ${gib(limit)} GiB ` +
      'allowed (SamplerOptions.memoryLimit); release finished sequences, or run fewer or shorter ones together',
  );
}
