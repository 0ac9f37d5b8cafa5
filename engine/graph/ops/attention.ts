// The fused attention path (float32): causal grouped-query attention and the rotary embedding as onnxruntime
// contrib kernels (com.microsoft.GroupQueryAttention, com.microsoft.RotaryEmbedding), with their derivative
// rules written here (attention's from the probabilities the kernel hands back).
//
// Why a contrib op: the explicit form (MatMul, additive mask, Softmax, MatMul) materialises the masked scores,
// and onnxruntime's Softmax turns every masked entry into a denormal, which makes it several times slower than
// on unmasked input (docs/engine.md, "Fused causal attention"). The fused kernel applies the causal window itself, writes exact
// zeros above the diagonal and needs no mask tensor. It knows causality only (every row attends to keys
// 0..t), so it is exact for batches whose padding is all at the end of each row; the caller picks it only then.
import type { Tensor } from '../graph.ts';
import { mul, sub } from './elementwise.ts';
import { matmul } from './linalg.ts';
import { sum } from './reduce.ts';
import { concat, dimOf, reshape, slice, transpose, transposeLast2 } from './shape.ts';

/** Rotation tables for rotaryEmbedding: one row per position, and the row of each head of each token. */
export interface RotaryCache {
  /** The row in the tables of each head of each token: int64 [B, T * heads] (token-major). */
  slots: Tensor;
  /** cos, sin and -sin of position x inverse frequency: [positions, D/2]. */
  cos: Tensor;
  sin: Tensor;
  negSin: Tensor;
}

/**
 * Rotary embedding (rotate-half form, as rope in nn.ts) on x [B, T, heads * D] by onnxruntime's kernel
 * (com.microsoft.RotaryEmbedding, float32): one node instead of the seven of the composite form. The kernel
 * sees every head as its own token ([B, T * heads, D], one head), so each head has its own row in the tables:
 * a head whose row is position 0 (cos 1, sin 0) passes through unrotated, which lets a packed q|k|v tensor go
 * through whole. The rotation is orthogonal, so the backward is the inverse rotation: the same kernel with sin
 * negated.
 */
export function rotaryEmbedding(x: Tensor, cache: RotaryCache): Tensor {
  const g = x.graph;
  const d = 2 * (cache.cos.shape[1] as number);
  const rotate = (t: Tensor, sin: Tensor) => {
    const tokens = reshape(t, ['B', 'TH', d], g.ints([0, -1, d]));
    const y = g.apply1('com.microsoft.RotaryEmbedding', [tokens, cache.slots, cache.cos, sin], { num_heads: 1 }, { dtype: t.dtype, shape: tokens.shape });
    return reshape(y, t.shape);
  };
  const y = g.noGrad(() => rotate(x, cache.sin));
  return g.attach(y, [x], ([gy]) => [rotate(gy!, cache.negSin)]);
}

/**
 * The causal window of GroupQueryAttention for a batch whose rows all span its whole length: seqlens_k = T - 1
 * per row and total_sequence_length = T, as int32. Built once per graph and shared by every layer.
 */
export interface CausalWindow {
  seqlens: Tensor;
  total: Tensor;
}

/** The CausalWindow of x [B, T, ...]. */
export function causalWindow(x: Tensor): CausalWindow {
  const g = x.graph;
  return g.noGrad(() => {
    const t = dimOf(x, 1, true);
    const int32 = (v: Tensor, shape: (string | number)[]) => g.apply1('Cast', [v], { to: 6 }, { dtype: 'int32', shape });
    const last = g.apply1('Sub', [t, g.ints([1])], {}, { dtype: 'int64', shape: [1] });
    return {
      seqlens: int32(g.apply1('Expand', [last, dimOf(x, 0, true)], {}, { dtype: 'int64', shape: ['B'] }), ['B']),
      total: int32(g.apply1('Squeeze', [t], {}, { dtype: 'int64', shape: [] }), []),
    };
  });
}

export interface CausalAttention {
  /** The attention output [B, T, heads * D]. */
  o: Tensor;
  /** Keys and values head-major, [B, kvHeads, T, D] (no gradient: for a KV cache). */
  keys: Tensor;
  values: Tensor;
}

/**
 * softmax(q k^T / sqrt(D) + causal mask) v for qkv [B, T, (heads + 2 kvHeads) * D], the queries, keys and values
 * of each token side by side (query head h reads kv head floor(h / (heads / kvHeads)), as Qwen3) -> the
 * attention output [B, T, heads * D], and the keys and values as a KV cache holds them.
 *
 * Backward, with P the probabilities ([B, heads, T, T], from the kernel) and dO the output gradient, per head:
 * dV = P^T dO; dS = P * (dO V^T - rowsum(dO * O)); dQ = dS K / sqrt(D); dK = dS^T Q / sqrt(D). rowsum(dO * O)
 * equals rowsum(P * dP) (as flash attention uses) and costs a [T, D] pass instead of a [T, T] one. K and V in
 * head-major layout are the kernel's own present_key / present_value outputs.
 */
export function causalAttention(qkv: Tensor, heads: number, kvHeads: number, opts: { recompute?: boolean; window?: CausalWindow } = {}): CausalAttention {
  const g = qkv.graph;
  if (g.float !== 'float32') throw new Error('causalAttention: onnxruntime implements GroupQueryAttention for float32 only');
  const d = (qkv.shape[2] as number) / (heads + 2 * kvHeads);
  const scale = 1 / Math.sqrt(d);
  const withGrad = g.recording && qkv.requiresGrad;
  // The kernel call; with `probs` it also hands back the probabilities after the softmax (qk_output mode 2).
  const { seqlens, total } = opts.window ?? causalWindow(qkv);
  const kernel = (probs: boolean) => g.noGrad(() => {
    const present = { dtype: qkv.dtype, shape: ['B', kvHeads, 'T', d] };
    const outs = [{ dtype: qkv.dtype, shape: ['B', 'T', heads * d] }, present, present];
    const attrs = { num_heads: heads, kv_num_heads: kvHeads, scale: { kind: 'float' as const, v: scale }, ...(probs ? { qk_output: 2 } : {}) };
    const probsOut = { dtype: qkv.dtype, shape: ['B', heads, 'T', 'T'] };
    return g.apply('com.microsoft.GroupQueryAttention', [qkv, null, null, null, null, seqlens, total], attrs, probs ? [...outs, probsOut] : outs);
  });
  // Only a train step needs the probabilities: from the forward call, or (recompute) from a second call that the
  // backward makes, so that only one layer's [B, heads, T, T] is alive at a time.
  const forward = kernel(withGrad && !opts.recompute);
  const [o, keys, values] = forward;
  if (!withGrad) return { o, keys, values };
  const attached = g.attach(o, [qkv], ([dO]) => {
    const [, kh, vh, probs] = opts.recompute ? kernel(true) : forward;
    const { dQ, dK, dV } = attentionGrads({ q: slice(qkv, -1, 0, heads * d), o, dO: dO!, k: kh, v: vh, probs }, heads, kvHeads);
    return [packedGrad(dQ, dK, dV)];
  });
  return { o: attached, keys, values };
}

/** One attention call's tensors for its backward: token-major q, o, dO [B, n, heads * D]; head-major K and V
 * [B, kvHeads, e, D] (the kernel's present outputs) and the probabilities [B, heads, n, e]. */
interface AttentionCall {
  q: Tensor;
  o: Tensor;
  dO: Tensor;
  k: Tensor;
  v: Tensor;
  probs: Tensor;
}

/**
 * The backward of one kernel call (see causalAttention): dQ [B, heads, n, D] and dK, dV [B, kvHeads, e, D].
 * Query heads are grouped by their kv head ([B, heads, n, X] -> [B, kvHeads, G*n, X]), so dK and dV come out of
 * one product each, summed over the group.
 */
function attentionGrads(c: AttentionCall, heads: number, kvHeads: number): { dQ: Tensor; dK: Tensor; dV: Tensor } {
  const d = c.k.shape[3] as number;
  const scale = 1 / Math.sqrt(d);
  const groups = heads / kvHeads;
  // [B, n, heads * D] -> [B, heads, n, D].
  const byHead = (x: Tensor) => transpose(reshape(x, ['B', 'n', heads, d]), [0, 2, 1, 3]);
  const grouped = (x: Tensor) => (groups === 1 ? x : reshape(x, ['B', kvHeads, 'Gn', x.shape[3]]));
  const qh = grouped(byHead(c.q));
  const dOh = grouped(byHead(c.dO));
  const rowDot = grouped(transpose(sum(mul(reshape(c.dO, ['B', 'n', heads, d]), reshape(c.o, ['B', 'n', heads, d])), [-1], true), [0, 2, 1, 3]));
  const p = grouped(c.probs);
  const dS = mul(p, sub(matmul(dOh, transposeLast2(c.v)), rowDot));
  return {
    dQ: reshape(mul(matmul(dS, c.k), scale), ['B', heads, 'n', d]),
    dK: mul(matmul(transposeLast2(dS), qh), scale),
    dV: matmul(transposeLast2(p), dOh),
  };
}

/** dQ, dK, dV head-major -> the gradient of the packed qkv [B, T, (heads + 2 kvHeads) * D], joined head-major
 * and transposed once (one copy fewer than per part). */
function packedGrad(dQ: Tensor, dK: Tensor, dV: Tensor): Tensor {
  const n = (dQ.shape[1] as number) + (dK.shape[1] as number) + (dV.shape[1] as number);
  return reshape(transpose(concat([dQ, dK, dV], 1), [0, 2, 1, 3]), ['B', 'T', n * (dQ.shape[3] as number)]);
}

/**
 * causalAttention for one row (B = 1) in `blocks` blocks of queries, for sequences whose [heads, T, T]
 * probabilities would not fit: block i holds tokens floor(i T / blocks) .. floor((i + 1) T / blocks) and attends
 * to the keys up to its end, read from the previous block's present outputs as the kernel's past (the kernel
 * allows a past for one row only). Memory for attention is one block's [heads, T / blocks, T] at a time, in the
 * forward pass and in the backward, which asks the kernel for each block's probabilities again; and only the
 * causal part of the scores is computed at all (the blocks above the diagonal are skipped), about
 * (1 + 1/blocks) / 2 of the full [T, T]. Needs T >= blocks.
 */
export function blockedCausalAttention(qkv: Tensor, heads: number, kvHeads: number, blocks: number): CausalAttention {
  const g = qkv.graph;
  if (g.float !== 'float32') throw new Error('blockedCausalAttention: onnxruntime implements GroupQueryAttention for float32 only');
  const d = (qkv.shape[2] as number) / (heads + 2 * kvHeads);
  const withGrad = g.recording && qkv.requiresGrad;
  const int64 = (op: string, a: Tensor, b: Tensor) => g.apply1(op, [a, b], {}, { dtype: 'int64', shape: [1] });
  const int32 = (v: Tensor, shape: (string | number)[]) => g.apply1('Cast', [v], { to: 6 }, { dtype: 'int32', shape });
  const { t, edge, slices } = g.noGrad(() => {
    const t0 = dimOf(qkv, 1, true);
    const edges = Array.from({ length: blocks + 1 }, (_, i) => (i === 0 ? g.ints([0]) : i === blocks ? t0 : int64('Div', int64('Mul', t0, g.ints([i])), g.ints([blocks]))));
    // Block i: its tokens along axis 1 of a [1, T, X] tensor.
    const cut = (x: Tensor, i: number) => g.apply1('Slice', [x, edges[i], edges[i + 1], g.ints([1])], {}, { dtype: x.dtype, shape: [x.shape[0], `T${i}`, x.shape[2]] });
    return { t: t0, edge: edges, slices: cut };
  });
  const blockQkv = Array.from({ length: blocks }, (_, i) => g.noGrad(() => slices(qkv, i)));
  const attrs = (probs: boolean) => ({ num_heads: heads, kv_num_heads: kvHeads, scale: { kind: 'float' as const, v: 1 / Math.sqrt(d) }, ...(probs ? { qk_output: 2 } : {}) });
  // Block i's kernel call on top of the keys and values before it (the previous call's present outputs).
  const call = (i: number, past: Tensor[] | null, probs: boolean) => g.noGrad(() => {
    const end = edge[i + 1];
    const present = { dtype: qkv.dtype, shape: ['B', kvHeads, `E${i}`, d] };
    const outs = [{ dtype: qkv.dtype, shape: ['B', `T${i}`, heads * d] }, present, present, ...(probs ? [{ dtype: qkv.dtype, shape: ['B', heads, `T${i}`, `E${i}`] }] : [])];
    const inputs = [blockQkv[i], null, null, past?.[0] ?? null, past?.[1] ?? null, int32(int64('Sub', end, g.ints([1])), [1]), int32(g.apply1('Squeeze', [end], {}, { dtype: 'int64', shape: [] }), [])];
    return g.apply('com.microsoft.GroupQueryAttention', inputs, attrs(probs), outs);
  });
  const forward: Tensor[][] = [];
  for (let i = 0; i < blocks; i++) forward.push(call(i, i > 0 ? forward[i - 1].slice(1, 3) : null, false));
  const o = g.noGrad(() => concat(forward.map((f) => f[0]), 1));
  const [keys, values] = forward[blocks - 1].slice(1, 3);
  if (!withGrad) return { o, keys, values };
  const attached = g.attach(o, [qkv], ([dO]) => {
    const dQ: Tensor[] = [];
    const dK: Tensor[] = [];
    const dV: Tensor[] = [];
    // Each block's keys and values end where it does: padded with zeros to T, the blocks' parts add up.
    const toT = (x: Tensor, i: number) => g.apply1('Pad', [x, concat([g.ints([0, 0, 0, 0, 0, 0]), int64('Sub', t, edge[i + 1]), g.ints([0])], 0)], {}, { dtype: x.dtype, shape: ['B', kvHeads, 'T', d] });
    for (let i = 0; i < blocks; i++) {
      const [, k, v, probs] = call(i, i > 0 ? forward[i - 1].slice(1, 3) : null, true);
      const grads = attentionGrads({ q: slice(blockQkv[i], -1, 0, heads * d), o: forward[i][0], dO: slices(dO!, i), k, v, probs }, heads, kvHeads);
      dQ.push(grads.dQ);
      dK.push(toT(grads.dK, i));
      dV.push(toT(grads.dV, i));
    }
    const total = (xs: Tensor[]) => (xs.length === 1 ? xs[0] : g.apply1('Sum', xs, {}, { dtype: xs[0].dtype, shape: xs[0].shape }));
    return [packedGrad(concat(dQ, 2), total(dK), total(dV))];
  });
  return { o: attached, keys, values };
}
