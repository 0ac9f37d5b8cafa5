// The Qwen3 decoder as a graph, in one readable file (nanoGPT spirit). Hugging Face's Qwen3ForCausalLM, op for
// op: token embedding; per layer RMSNorm -> q/k/v projections -> RMSNorm over head_dim on q and k -> rotary
// embedding (rotate-half) -> grouped-query causal attention (softmax in the graph's float type, f32 or f64; or,
// on float32 batches padded at the end, onnxruntime's fused kernels: AttentionKind) -> output projection ->
// residual; RMSNorm -> SwiGLU MLP down(silu(gate(x)) * up(x)) -> residual; final RMSNorm and the (tied or
// untied) head. The residual stream is kept 2-D [N = B*T, hidden] so every projection is one Gemm.
import type { Qwen3Config } from '../config.ts';
import { qwen3ParamShapes } from '../config.ts';
import type { Graph, Tensor } from '../graph/graph.ts';
import { add, cast, cos, less, lessOrEqual, and, mul, neg, shapeOf, silu, sin, sub, where } from '../graph/ops/elementwise.ts';
import { linear, matmul } from '../graph/ops/linalg.ts';
import { blockedCausalAttention, causalAttention, causalWindow, rotaryEmbedding } from '../graph/ops/attention.ts';
import type { CausalWindow, RotaryCache } from '../graph/ops/attention.ts';
import { rmsNorm, rope, softmax } from '../graph/ops/nn.ts';
import { queryBlocks } from '../attention-choice.ts';
import type { AttentionKind } from '../attention-choice.ts';
import { concat, dimOf, embedding, reshape, slice, transpose, transposeLast2, unsqueeze } from '../graph/ops/shape.ts';

/** Additive mask value for disallowed keys (finite, so fully masked rows stay NaN-free). */
const MASKED = -1e9;

export interface LayerParams {
  inputNorm: Tensor;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  o: Tensor;
  qNorm: Tensor;
  kNorm: Tensor;
  postNorm: Tensor;
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

export interface Qwen3Params {
  embed: Tensor;
  layers: LayerParams[];
  norm: Tensor;
  /** The output head: the embedding itself when tied. */
  head: Tensor;
  /** Every parameter by HF name, in canonical order. */
  byName: Map<string, Tensor>;
}

/** Declares every parameter as a trainable graph input named by its HF name. */
export function declareParams(g: Graph, cfg: Qwen3Config): Qwen3Params {
  const byName = new Map<string, Tensor>();
  for (const [name, shape] of qwen3ParamShapes(cfg)) byName.set(name, g.param(name, shape));
  const p = (n: string) => byName.get(n)!;
  const layers = Array.from({ length: cfg.numHiddenLayers }, (_, i): LayerParams => {
    const l = `model.layers.${i}`;
    return {
      inputNorm: p(`${l}.input_layernorm.weight`),
      q: p(`${l}.self_attn.q_proj.weight`),
      k: p(`${l}.self_attn.k_proj.weight`),
      v: p(`${l}.self_attn.v_proj.weight`),
      o: p(`${l}.self_attn.o_proj.weight`),
      qNorm: p(`${l}.self_attn.q_norm.weight`),
      kNorm: p(`${l}.self_attn.k_norm.weight`),
      postNorm: p(`${l}.post_attention_layernorm.weight`),
      gate: p(`${l}.mlp.gate_proj.weight`),
      up: p(`${l}.mlp.up_proj.weight`),
      down: p(`${l}.mlp.down_proj.weight`),
    };
  });
  const embed = p('model.embed_tokens.weight');
  return { embed, layers, norm: p('model.norm.weight'), head: cfg.tieWordEmbeddings ? embed : p('lm_head.weight'), byName };
}

/** Rotary tables cos, sin [B, 1, T, headDim] for int64 positions [B, T] (inverse frequencies as HF computes them). */
export function ropeTables(cfg: Qwen3Config, positions: Tensor): { cos: Tensor; sin: Tensor } {
  const g = positions.graph;
  const d = cfg.headDim;
  const f32 = g.float === 'float32';
  const round = f32 ? Math.fround : (x: number) => x;
  const invFreq = Array.from({ length: d / 2 }, (_, i) => round(1 / round(cfg.ropeTheta ** round((2 * i) / d))));
  return g.noGrad(() => {
    const freqs = mul(unsqueeze(cast(positions, g.float), [-1]), g.constant(invFreq, g.float, [d / 2]));
    const emb = unsqueeze(concat([freqs, freqs], -1), [1]);
    return { cos: cos(emb), sin: sin(emb) };
  });
}

/**
 * The rotary tables in the layout of onnxruntime's kernel (see RotaryCache) for the packed q|k|v heads of the
 * fused path: one [D/2] row per position 0..max(positions), computed as ropeTables computes them; query and key
 * heads read their token's row, value heads row 0 (cos 1, sin 0), so they pass through unrotated.
 */
function rotaryCache(cfg: Qwen3Config, positions: Tensor): RotaryCache {
  const g = positions.graph;
  const { numAttentionHeads: hq, numKeyValueHeads: hkv } = cfg;
  return g.noGrad(() => {
    const int64 = (v: number) => g.constant([v], 'int64', []);
    const rotated = g.constant([...new Array<number>(hq + hkv).fill(1), ...new Array<number>(hkv).fill(0)], 'int64', [hq + 2 * hkv]);
    const slots = reshape(mul(unsqueeze(positions, [-1]), rotated), ['B', 'TH'], g.ints([0, -1]));
    const count = add(g.apply1('ReduceMax', [positions], { keepdims: 0 }, { dtype: 'int64', shape: [] }), int64(1));
    const rows = g.apply1('Range', [int64(0), count, int64(1)], {}, { dtype: 'int64', shape: ['P'] });
    const { cos: c, sin: s } = ropeTables(cfg, unsqueeze(rows, [0]));
    // The kernel also wants at least as many rows as it sees tokens (T * heads): zero rows pad the tables out.
    const short = g.apply1('Max', [sub(dimOf(slots, 1, false), count), int64(0)], {}, { dtype: 'int64', shape: [] });
    const pads = concat([g.ints([0, 0]), unsqueeze(short, [0]), g.ints([0])], 0);
    // [1, 1, P, D] -> [P, D/2] (the tables repeat each frequency twice over head_dim; the kernel wants one half).
    const half = (t: Tensor) => g.apply1('Pad', [reshape(slice(t, -1, 0, cfg.headDim / 2), ['P', cfg.headDim / 2], g.ints([-1, cfg.headDim / 2])), pads], {}, { dtype: t.dtype, shape: ['R', cfg.headDim / 2] });
    const sinRows = half(s);
    return { slots, cos: half(c), sin: sinRows, negSin: neg(sinRows) };
  });
}

/** What every layer of the fused path shares: the rotary tables and the causal window. */
interface FusedTables {
  rotary: RotaryCache;
  window: CausalWindow;
}

/** A shape tensor: the [B, T] of `ids` followed by static dims. */
function btShape(ids: Tensor, tail: number[]): Tensor {
  const g = ids.graph;
  return g.apply1('Concat', [shapeOf(ids), g.ints(tail)], { axis: 0 }, { dtype: 'int64', shape: [2 + tail.length] });
}

/** 0..n-1 for an int64 scalar n. */
function range(n: Tensor): Tensor {
  const g = n.graph;
  return g.apply1('Range', [g.constant([0], 'int64', []), n, g.constant([1], 'int64', [])], {}, { dtype: 'int64', shape: ['n'] });
}

/** Additive causal + key-padding mask [B, 1, G*T, T] for attention_mask [B, T] (1 = real token). */
export function causalMask(attentionMask: Tensor, groups: number): Tensor {
  const g = attentionMask.graph;
  return g.noGrad(() => {
    const idx = range(dimOf(attentionMask, 1));
    const causal = lessOrEqual(unsqueeze(idx, [0]), unsqueeze(idx, [1])); // [Tq, Tk]: key <= query
    const keyOk = unsqueeze(cast(attentionMask, 'bool'), [1, 2]); // [B, 1, 1, Tk]
    const add4 = where(and(causal, keyOk), 0, g.scalar(MASKED)); // [B, 1, Tq, Tk]
    return groups === 1 ? add4 : g.apply1('Tile', [add4, g.ints([1, 1, groups, 1])], {}, { dtype: g.float, shape: ['B', 1, 'GT', 'T'] });
  });
}

interface Projected {
  /** Queries grouped by kv head: [B, Hkv, G*T, D]. */
  q: Tensor;
  /** [B, Hkv, T, D] */
  k: Tensor;
  v: Tensor;
}

/** q/k/v projections with q/k RMSNorm and rotary embedding, for x [N, hidden] of ids [B, T]. */
function project(cfg: Qwen3Config, p: LayerParams, x: Tensor, ids: Tensor, rot: { cos: Tensor; sin: Tensor }): Projected {
  const { numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d, rmsNormEps: eps } = cfg;
  const heads = (w: Tensor, n: number) => reshape(linear(x, w), ['B', 'T', n, d], btShape(ids, [n, d]));
  const q = rope(transpose(rmsNorm(heads(p.q, hq), p.qNorm, eps), [0, 2, 1, 3]), rot.cos, rot.sin);
  const k = rope(transpose(rmsNorm(heads(p.k, hkv), p.kNorm, eps), [0, 2, 1, 3]), rot.cos, rot.sin);
  const v = transpose(heads(p.v, hkv), [0, 2, 1, 3]);
  // Query head h reads kv head floor(h / G): [B, Hq, T, D] is [B, Hkv, G, T, D] in memory.
  return { q: reshape(q, ['B', hkv, 'GT', d]), k, v };
}

/**
 * Self-attention on the fused path (AttentionKind 'causal'): one Gemm projects q, k and v together into the
 * packed [B, T, q|k|v heads, D] tensor the kernel takes; one RMSNorm (each head's row with its own weight, the
 * v heads passed through) and one rotary node (the v heads on the identity row) work on it in place. Heads stay
 * in [B, T, H, D] order, so nothing is transposed or split. Same math as project + the masked form, in about
 * half the nodes.
 */
function causalSelfAttention(cfg: Qwen3Config, p: LayerParams, x: Tensor, ids: Tensor, fused: FusedTables, kind: AttentionKind): { out: Tensor; keys: Tensor; values: Tensor } {
  const { numAttentionHeads: hq, numKeyValueHeads: hkv, headDim: d, rmsNormEps: eps } = cfg;
  const g = x.graph;
  const n = hq + 2 * hkv;
  // One Gemm for q, k and v; the q and k heads normalised and rotated in place while the v heads ride along
  // (weight 1, no normalisation, rotary row 0), so the packed tensor goes to the kernel without a copy.
  const qkv = reshape(linear(x, concat([p.q, p.k, p.v], 0)), ['B', 'T', n, d], btShape(ids, [n, d]));
  const perHead = (w: Tensor, heads: number) => mul(g.constant(new Array<number>(heads).fill(1), g.float, [heads, 1]), w);
  const weights = concat([perHead(p.qNorm, hq), perHead(p.kNorm, hkv), g.constant(new Array<number>(hkv * d).fill(1), g.float, [hkv, d])], 0);
  const normedHeads = [...new Array<number>(hq + hkv).fill(1), ...new Array<number>(hkv).fill(0)];
  const normed = reshape(rmsNorm(qkv, weights, eps, normedHeads), ['B', 'T', n * d], btShape(ids, [n * d]));
  const packed = rotaryEmbedding(normed, fused.rotary);
  const blocks = queryBlocks(kind);
  const { o, keys, values } = blocks > 0 ? blockedCausalAttention(packed, hq, hkv, blocks) : causalAttention(packed, hq, hkv, { recompute: kind === 'causal-recompute', window: fused.window });
  return { out: linear(reshape(o, ['N', hq * d]), p.o), keys, values };
}

/** Attention output [B, Hkv, G*T, D] -> [N, Hq*D] -> o_proj. */
function mergeHeads(cfg: Qwen3Config, p: LayerParams, o: Tensor): Tensor {
  const { numAttentionHeads: hq, headDim: d } = cfg;
  const byHead = transpose(reshape(o, ['B', hq, 'T', d]), [0, 2, 1, 3]);
  return linear(reshape(byHead, ['N', hq * d]), p.o);
}

function mlp(p: LayerParams, x: Tensor): Tensor {
  return linear(mul(silu(linear(x, p.gate)), linear(x, p.up)), p.down);
}

/** Per layer, the keys and values of a fused decoder pass, head-major [B, Hkv, T, D] (filled by decoder). */
export interface KvOut {
  keys: Tensor[];
  values: Tensor[];
}

/**
 * The decoder over whole sequences: ids, positions (int64 [B, T]) and attention_mask ([B, T], 1 = real; not read
 * by the fused attention) -> final-normed hidden states [N, hidden] (N = B*T, row-major over B then T). With
 * `kv` (fused attention only), each layer's keys and values are collected there too, for a KV cache.
 */
export function decoder(cfg: Qwen3Config, p: Qwen3Params, ids: Tensor, positions: Tensor, attentionMask: Tensor | null, attention: AttentionKind = 'masked', kv?: KvOut): Tensor {
  const groups = cfg.numAttentionHeads / cfg.numKeyValueHeads;
  const scale = 1 / Math.sqrt(cfg.headDim);
  const fused = attention !== 'masked';
  const cache: FusedTables | null = fused ? { rotary: rotaryCache(cfg, positions), window: causalWindow(ids) } : null;
  const rot = fused ? null : ropeTables(cfg, positions);
  if (!fused && !attentionMask) throw new Error('decoder: the masked attention needs an attention_mask');
  if (!fused && kv) throw new Error('decoder: only the fused attention hands out keys and values');
  const mask = fused ? null : causalMask(attentionMask!, groups);
  const selfAttention = (layer: LayerParams, h: Tensor): Tensor => {
    if (cache) {
      const a = causalSelfAttention(cfg, layer, h, ids, cache, attention);
      kv?.keys.push(a.keys);
      kv?.values.push(a.values);
      return a.out;
    }
    const { q, k, v } = project(cfg, layer, h, ids, rot!);
    const probs = softmax(add(mul(matmul(q, transposeLast2(k)), scale), mask!));
    return mergeHeads(cfg, layer, matmul(probs, v));
  };
  let x = reshape(embedding(p.embed, ids), ['N', cfg.hiddenSize]);
  for (const layer of p.layers) {
    x = add(x, selfAttention(layer, rmsNorm(x, layer.inputNorm, cfg.rmsNormEps)));
    x = add(x, mlp(layer, rmsNorm(x, layer.postNorm, cfg.rmsNormEps)));
  }
  return rmsNorm(x, p.norm, cfg.rmsNormEps);
}

export interface KvInputs {
  /** Past keys per layer, transposed: [B, Hkv, D, S]. */
  keys: Tensor[];
  /** Past values per layer: [B, Hkv, S, D]. */
  values: Tensor[];
  /** Number of valid past slots per row: int64 [B]. */
  pastLen: Tensor;
  /** Which new tokens are real: bool [B, T]. */
  newValid: Tensor;
}

export interface KvStep {
  hidden: Tensor;
  /** New keys per layer, transposed [B, Hkv, D, T], and values [B, Hkv, T, D], for the cache write-back. */
  newKeys: Tensor[];
  newValues: Tensor[];
}

/**
 * The decoder over T new tokens per row on top of a KV cache (inference only). Attention is computed against
 * the cached slots and the new tokens separately and joined in one softmax, so the cache is read in place and
 * never copied; only the new keys/values come out, for the host to write back.
 */
export function decoderStep(cfg: Qwen3Config, p: Qwen3Params, ids: Tensor, positions: Tensor, kv: KvInputs): KvStep {
  const g = ids.graph;
  return g.noGrad(() => {
    const groups = cfg.numAttentionHeads / cfg.numKeyValueHeads;
    const scale = 1 / Math.sqrt(cfg.headDim);
    const rot = ropeTables(cfg, positions);
    const newMask = causalMask(kv.newValid, groups); // [B, 1, G*T, T]
    const slots = range(dimOf(kv.keys[0], 3));
    const pastMask = where(less(unsqueeze(slots, [0]), unsqueeze(kv.pastLen, [1])), 0, g.scalar(MASKED)); // [B, S]
    const pastAdd = unsqueeze(pastMask, [1, 2]); // [B, 1, 1, S]
    const split = g.apply1('Concat', [unsqueeze(dimOf(kv.keys[0], 3), [0]), unsqueeze(dimOf(ids, 1), [0])], { axis: 0 }, { dtype: 'int64', shape: [2] });
    let x = reshape(embedding(p.embed, ids), ['N', cfg.hiddenSize]);
    const newKeys: Tensor[] = [];
    const newValues: Tensor[] = [];
    p.layers.forEach((layer, i) => {
      const { q, k, v } = project(cfg, layer, rmsNorm(x, layer.inputNorm, cfg.rmsNormEps), ids, rot);
      const kT = transposeLast2(k);
      newKeys.push(kT);
      newValues.push(v);
      const sPast = add(mul(matmul(q, kv.keys[i]), scale), pastAdd);
      const sNew = add(mul(matmul(q, kT), scale), newMask);
      const probs = softmax(concat([sPast, sNew], -1));
      const [pPast, pNew] = g.apply('Split', [probs, split], { axis: 3 }, [
        { dtype: g.float, shape: sPast.shape },
        { dtype: g.float, shape: sNew.shape },
      ]);
      const o = add(matmul(pPast, kv.values[i]), matmul(pNew, v));
      x = add(x, mergeHeads(cfg, layer, o));
      x = add(x, mlp(layer, rmsNorm(x, layer.postNorm, cfg.rmsNormEps)));
    });
    return { hidden: rmsNorm(x, p.norm, cfg.rmsNormEps), newKeys, newValues };
  });
}

/** Logits [rows, vocab] for hidden states [rows, hidden]. */
export function lmHead(p: Qwen3Params, hidden: Tensor): Tensor {
  return linear(hidden, p.head);
}

/** Rows per product of the decoding head (lmHeadFewRows). */
export const HEAD_ROW_BLOCK = 16;

/**
 * lmHead for decoding (inference only), computed as (W h^T)^T in blocks of HEAD_ROW_BLOCK rows: onnxruntime's
 * MatMul of the [vocab, hidden] weight by a narrow [hidden, rows] matrix streams the weight once, where Gemm
 * with transB is slower for a few rows (docs/BENCHMARKS.md, "Engine design measurements"). The rows are padded to whole blocks and
 * each block is its own product: MLAS picks its block of the reduction (hidden) axis from the narrow matrix's
 * width (up to 16 columns: one block size; 17-32: another), so a fixed width keeps a row's logits the same
 * however many rows share the step (docs/engine.md, "Batch-composition invariance").
 */
export function lmHeadFewRows(p: Qwen3Params, hidden: Tensor): Tensor {
  const g = hidden.graph;
  const rows = hidden.shape[0];
  const [vocab, width] = p.head.shape as number[]; // parameters have static shapes
  const f = hidden.dtype;
  const one = { dtype: 'int64' as const, shape: [1] };
  return g.noGrad(() => {
    const n = dimOf(hidden, 0, true);
    const block = g.ints([HEAD_ROW_BLOCK]);
    const extra = g.apply1('Mod', [g.apply1('Sub', [block, g.apply1('Mod', [n, block], {}, one)], {}, one), block], {}, one);
    const pads = g.apply1('Concat', [g.ints([0, 0]), extra, g.ints([0])], { axis: 0 }, { dtype: 'int64', shape: [4] });
    const padded = g.apply1('Pad', [hidden, pads], {}, { dtype: f, shape: ['padded_rows', width] });
    const blocks = reshape(padded, ['blocks', HEAD_ROW_BLOCK, width], g.ints([-1, HEAD_ROW_BLOCK, width]));
    const logitsT = g.apply1('MatMul', [p.head, transpose(blocks, [0, 2, 1])], {}, { dtype: f, shape: ['blocks', vocab, HEAD_ROW_BLOCK] });
    const logits = reshape(transpose(logitsT, [0, 2, 1]), ['padded_rows', vocab], g.ints([-1, vocab]));
    return g.apply1('Slice', [logits, g.ints([0]), n, g.ints([0])], {}, { dtype: f, shape: [rows, vocab] });
  });
}
