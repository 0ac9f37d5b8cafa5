// Which attention a program uses, decided in this one file for the learner, the sampler and the memory
// estimates: a new kernel (a GPU provider's, say) is a new kind here plus its graph in qwen3/model.ts.
//
// 'masked': explicit matmuls, softmax and an additive causal + padding mask (any attention_mask, any float
// type, any provider). 'causal': onnxruntime's fused CPU kernel (graph/ops/attention.ts), float32 only, for rows
// whose padding is all at the end (attention_mask is then not read). 'causal-recompute': the same, but a train
// step recomputes each layer's probabilities in its backward instead of keeping all layers' from the forward.
// 'causal-blocked-N' (one row only): the fused kernel over N blocks of queries, one block's [heads, T/N, T]
// alive at a time, for rows too long for one layer's probabilities.
import type { Qwen3Config } from './config.ts';
import type { FloatType } from './graph/graph.ts';

export type AttentionKind = 'masked' | 'causal' | 'causal-recompute' | `causal-blocked-${number}`;

/** The number of query blocks of a 'causal-blocked-N' kind; 0 for the others. */
export function queryBlocks(kind: AttentionKind): number {
  return kind.startsWith('causal-blocked-') ? Number(kind.slice('causal-blocked-'.length)) : 0;
}

/**
 * One row of at least BLOCKED_FROM tokens runs in query blocks of at most BLOCK_QUERIES: below ~768 tokens the
 * extra kernel calls cost more than skipping the scores above the diagonal saves (docs/BENCHMARKS.md, "One long
 * row").
 */
const BLOCK_QUERIES = 256;
const BLOCKED_FROM = 768;

/**
 * The query blocks for one row of `tokens` (0: the whole-layer kernel): blocks of at most BLOCK_QUERIES from
 * BLOCKED_FROM tokens on, and at any length more blocks while one block's share of a layer's probabilities
 * (`layerBytes`) exceeds `budget`. A power of two, so that lengths share programs; at most 256, and one per token.
 */
export function blocksForRow(tokens: number, layerBytes: number, budget: number): number {
  if (tokens < BLOCKED_FROM && layerBytes <= budget) return 0;
  let blocks = 2;
  while ((tokens / blocks > BLOCK_QUERIES || layerBytes / blocks > budget) && blocks < Math.min(256, tokens)) blocks *= 2;
  return Math.min(blocks, tokens);
}

/**
 * Whether the fused kernels can run these programs at all: float32 on the CPU provider, and a head_dim that is
 * a multiple of 8 (see FUSED_HEAD_DIM_MULTIPLE). `asked` is the user's option ('masked' turns them off).
 */
export function fusedAttentionUsable(config: Qwen3Config, dtype: FloatType, providers: readonly string[], asked: string): boolean {
  return asked !== 'masked' && dtype === 'float32' && providers.every((p) => p === 'cpu') && config.headDim % FUSED_HEAD_DIM_MULTIPLE === 0;
}

/** onnxruntime's GroupQueryAttention CPU kernel fails at run time ("head_size must be a multiple of 8") on other head_dims. */
export const FUSED_HEAD_DIM_MULTIPLE = 8;

export interface LearnerAttention {
  /** The fused kernels are usable (fusedAttentionUsable). */
  fused: boolean;
  /** Long rows may run in query blocks, one row at a time (LearnerOptions.attention 'auto'). */
  blocks: boolean;
  /** Bytes of attention probabilities a pass may keep (LearnerOptions.attentionMemory). */
  memory: number;
}

/** One layer's attention probabilities for `rows` x `cols` tokens (float32), in bytes. */
function layerBytes(config: Qwen3Config, rows: number, cols: number): number {
  return rows * config.numAttentionHeads * cols ** 2 * 4;
}

/**
 * The learner's kind for a batch of `rows` rows padded to `cols` (padsAtEnd: every row's padding is at its end),
 * in a train step or a scoring pass: the fused kernel where it is exact, in query blocks for one long row,
 * recomputing the probabilities in the backward when all layers' would exceed the memory budget.
 */
export function learnerAttention(config: Qwen3Config, opts: LearnerAttention, batch: { rows: number; cols: number; padsAtEnd: boolean }, use: 'train' | 'score'): AttentionKind {
  if (!(opts.fused && batch.padsAtEnd)) return 'masked';
  const oneLayer = layerBytes(config, batch.rows, batch.cols);
  const blocks = opts.blocks && batch.rows === 1 ? blocksForRow(batch.cols, oneLayer, opts.memory) : 0;
  if (blocks > 0) return `causal-blocked-${blocks}`;
  return use === 'train' && config.numHiddenLayers * oneLayer > opts.memory ? 'causal-recompute' : 'causal';
}

/** Whether a learner batch of `rows` rows whose longest has `cols` tokens runs row by row, so that its rows take query blocks. */
export function learnerRunsByRow(config: Qwen3Config, opts: LearnerAttention, rows: number, cols: number): boolean {
  return opts.fused && opts.blocks && rows >= 2 && blocksForRow(cols, layerBytes(config, 1, cols), opts.memory) > 0;
}

/** The sampler's prefill kind for `rows` fresh prompts padded to `tokens`: one long prompt runs in query blocks. */
export function prefillAttention(rows: number, tokens: number): AttentionKind {
  const blocks = rows === 1 ? blocksForRow(tokens, 0, Infinity) : 0;
  return blocks > 0 ? `causal-blocked-${blocks}` : 'causal';
}

/** Whether fresh prompts whose longest has `tokens` are prefilled one by one (each then in query blocks). */
export function prefillsOneByOne(tokens: number): boolean {
  return blocksForRow(tokens, 0, Infinity) > 0;
}

/**
 * How many layers' worth of attention probabilities a pass of `kind` holds at its peak, in a train step or a
 * scoring pass (calibrated from peak RSS, engine/memory.ts): a blocked form holds one block's at a time.
 */
export function attentionLayersHeld(layers: number, kind: AttentionKind, use: 'train' | 'score'): number {
  const blocks = queryBlocks(kind);
  if (blocks > 0) return (use === 'train' ? 4 : 1) / blocks;
  if (use === 'score') return kind === 'masked' ? 3 : 1;
  if (kind === 'causal-recompute') return 4;
  return layers + (kind === 'masked' ? 4 : 3);
}
