// Neural-network ops whose derivative rules are worth writing by hand (fewer, cheaper backward nodes than the
// autodiff of their parts): softmax, RMSNorm, rotary embedding, and the vocabulary head with the log-probs of
// its targets. Composite ops compute their forward pass under noGrad and attach their rule with Graph.attach.
import type { Tensor } from '../graph.ts';
import { add, div, exp, log, mul, neg, sqrt, sub, unbroadcast } from './elementwise.ts';
import { max, sum } from './reduce.ts';
import { concat, gatherElements, slice, squeeze, unsqueeze } from './shape.ts';

/** Softmax over the last axis; dx = y * (g - sum(g * y)). */
export function softmax(x: Tensor): Tensor {
  const g = x.graph;
  const y: Tensor = g.apply1('Softmax', [x], { axis: -1 }, { dtype: x.dtype, shape: x.shape }, ([gy]) => [mul(y, sub(gy!, sum(mul(gy!, y), [-1], true)))]);
  return y;
}

/**
 * RMSNorm over the last axis (length D): y = x / sqrt(mean(x^2) + eps) * w. With r = 1/sqrt(mean(x^2) + eps) and
 * xh = x * r: dw = sum(g * xh) over the leading axes, dx = r g*w - xh * (r mean(g*w * xh)).
 *
 * `normed` (0 or 1 per slice along the second-to-last axis) picks the slices to normalise; the others pass
 * through as x * w. The fused attention normalises the query and key heads of a packed q|k|v tensor this way, so
 * that the value heads need not be split off and joined again (two copies each way). With the factor f = r
 * (1 on pass-through slices) and xh = x * f: dx = f g*w - xh * (m r mean(g*w * xh)), m the 0/1 of the slice.
 *
 * Why this op order: r is formed as sqrt(D) / sqrt(sum(x^2) + D eps) on the row axes only (ReduceSumSquare
 * without keepdims), and widened once. onnxruntime's broadcasting binary kernels pay per row of the narrower
 * operand, so an eps added to a [..., 1] tensor costs as much as a full pass over x (docs/engine.md, "RMSNorm's
 * op order").
 */
export function rmsNorm(x: Tensor, w: Tensor, eps: number, normed?: readonly number[]): Tensor {
  const g = x.graph;
  const d = x.shape[x.rank - 1] as number;
  const rows = x.shape.slice(0, -1);
  const [f, rm, xh, y] = g.noGrad(() => {
    const ss = g.apply1('ReduceSumSquare', [x, g.ints([-1])], { keepdims: 0 }, { dtype: x.dtype, shape: rows });
    const perSlice = (values: number[]) => g.constant(values, g.float, [values.length]);
    const m = normed && perSlice([...normed]);
    // On pass-through slices the factor is sqrt(D) / sqrt(0 * ss + D) = 1.
    const r0 = div(Math.sqrt(d), sqrt(m ? add(mul(ss, m), perSlice(normed!.map((k) => (k ? d * eps : d)))) : add(ss, d * eps)));
    const fw = unsqueeze(r0, [-1]);
    const xh0 = mul(x, fw);
    return [fw, m ? mul(r0, m) : r0, xh0, mul(xh0, w)];
  });
  return g.attach(y, [x, w], ([gy]) => {
    const gw = mul(gy!, w);
    const t = g.apply1('ReduceMean', [mul(gw, xh), g.ints([-1])], { keepdims: 0 }, { dtype: x.dtype, shape: rows });
    return [sub(mul(f, gw), mul(xh, unsqueeze(mul(rm, t), [-1]))), unbroadcast(mul(gy!, xh), w)];
  });
}

/** rotate_half(x) = cat(-x2, x1) over the last axis; its transpose (sign -1) is cat(x2, -x1). */
function rotateHalf(x: Tensor, sign: 1 | -1): Tensor {
  const d = x.shape[x.rank - 1] as number;
  const x1 = slice(x, -1, 0, d / 2);
  const x2 = slice(x, -1, d / 2, d);
  return sign === 1 ? concat([neg(x2), x1], -1) : concat([x2, neg(x1)], -1);
}

/**
 * Rotary embedding, rotate-half form: y = x * cos + rotate_half(x) * sin (cos/sin broadcast over x and carry
 * no gradient). dx = g * cos + rotate_half^T(g * sin).
 */
export function rope(x: Tensor, cosT: Tensor, sinT: Tensor): Tensor {
  const g = x.graph;
  const y = g.noGrad(() => add(mul(x, cosT), mul(rotateHalf(x, 1), sinT)));
  return g.attach(y, [x], ([gy]) => [add(mul(gy!, cosT), rotateHalf(mul(gy!, sinT), -1))]);
}

/** log sum exp over the last axis (no gradient rule: for reporting and sampling). */
export function logSumExp(x: Tensor): Tensor {
  const m = max(x, [-1], true);
  return squeeze(add(m, log(sum(exp(sub(x, m)), [-1], true))), [-1]);
}

interface TargetStats {
  /** softmax(logits) [N, V] */
  p: Tensor;
  /** targets as int64 [N, 1] */
  idx: Tensor;
  /** log-probs of the targets [N, 1] */
  lp: Tensor;
  /** entropy of each row [N] */
  entropy: Tensor;
}

/**
 * The forward half of the target log-probs (no rule). One Softmax kernel forms p; the log-sum-exp comes from the
 * largest probability (>= 1/V, so it never underflows) as max(logits) - log(max(p)), and logp = logits[target] -
 * lse. Entropy = lse - sum(p * logits) is for reporting; nodes of an unused output are pruned from the model.
 */
function targetStats(logits: Tensor, targets: Tensor): TargetStats {
  const g = logits.graph;
  return g.noGrad(() => {
    const p = g.apply1('Softmax', [logits], { axis: -1 }, { dtype: logits.dtype, shape: logits.shape });
    const lse = sub(max(logits, [-1], true), log(max(p, [-1], true)));
    const idx = unsqueeze(targets, [-1]);
    const lp = sub(gatherElements(logits, idx, 1), lse);
    return { p, idx, lp, entropy: squeeze(sub(lse, sum(mul(p, logits), [-1], true)), [-1]) };
  });
}

/**
 * The vocabulary head and the target log-probs as one op: logits = x W^T for x [N, H], W [V, H], then logp and
 * entropy as targetStats computes them. Its rule never forms dlogits = s (onehot - p) (s = the incoming
 * gradient per row), which would cost a pass over [N, V] and a copy of it for the scatter; with the one-hot
 * part split off,
 *   dx = s (W[target] - p W)                          (a gather and one Gemm on p)
 *   dW = -(s x)^T p  + rows s x added at the targets   (one Gemm on p, plus N rows)
 * The dense part of dW is computed transposed, as (-s x)^T p -> [H, V], and transposed back: onnxruntime's
 * Gemm with K = N small and transA on the [N, V] operand is slower than this one by more than the transpose
 * costs (docs/engine.md, "Head and log-probs share one derivative rule"). The rows are registered as a scatter gradient, so a program can
 * output the dense part and the rows without materialising their sum.
 */
export function headLogProbs(x: Tensor, w: Tensor, targets: Tensor): { logp: Tensor; entropy: Tensor } {
  const g = x.graph;
  const [n, h] = x.shape;
  const v = w.shape[0];
  const logits = g.noGrad(() => g.apply1('Gemm', [x, w], { transB: 1 }, { dtype: x.dtype, shape: [n, v] }));
  const { p, idx, lp, entropy } = targetStats(logits, targets);
  const out = g.attach(lp, [x, w], ([gy]) => {
    const s = gy!; // [N, 1]
    const wAtTarget = g.apply1('Gather', [w, targets], { axis: 0 }, { dtype: x.dtype, shape: [n, h] });
    const dx = mul(s, sub(wAtTarget, g.apply1('MatMul', [p, w], {}, { dtype: x.dtype, shape: [n, h] })));
    const sx = mul(s, x);
    const denseT = g.apply1('Gemm', [neg(sx), p], { transA: 1 }, { dtype: x.dtype, shape: [h, v] });
    const dense = g.apply1('Transpose', [denseT], { perm: [1, 0] }, { dtype: x.dtype, shape: [v, h] });
    const dw = g.apply1('ScatterND', [dense, idx, sx], { reduction: 'add' }, { dtype: x.dtype, shape: [v, h] });
    g.scatterGrads.set(dw.name, { indices: idx, updates: sx, base: dense });
    return [dx, dw];
  });
  return { logp: squeeze(out, [-1]), entropy };
}
