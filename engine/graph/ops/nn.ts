// Neural-network ops whose derivative rules are worth writing by hand (fewer, cheaper backward nodes than the
// autodiff of their parts): softmax, RMSNorm, rotary embedding, and the log-prob of target tokens. Composite
// ops compute their forward pass under noGrad and attach their rule with Graph.attach.
import type { Tensor } from '../graph.ts';
import { add, exp, log, mul, neg, reciprocal, sqrt, sub, unbroadcast } from './elementwise.ts';
import { max, mean, sum } from './reduce.ts';
import { concat, gatherElements, slice, squeeze, unsqueeze } from './shape.ts';

/** Softmax over the last axis; dx = y * (g - sum(g * y)). */
export function softmax(x: Tensor): Tensor {
  const g = x.graph;
  const y: Tensor = g.apply1('Softmax', [x], { axis: -1 }, { dtype: x.dtype, shape: x.shape }, ([gy]) => [mul(y, sub(gy!, sum(mul(gy!, y), [-1], true)))]);
  return y;
}

/**
 * RMSNorm over the last axis: y = x / sqrt(mean(x^2) + eps) * w. With r = 1/sqrt(mean(x^2) + eps) and
 * xh = x * r: dw = sum(g * xh) over the leading axes, dx = r * (g*w - xh * mean(g*w * xh)).
 */
export function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const g = x.graph;
  const [r, xh, y] = g.noGrad(() => {
    const r0 = reciprocal(sqrt(add(mean(mul(x, x), [-1], true), eps)));
    const xh0 = mul(x, r0);
    return [r0, xh0, mul(xh0, w)];
  });
  return g.attach(y, [x, w], ([gy]) => {
    const gw = mul(gy!, w);
    return [mul(r, sub(gw, mul(xh, mean(mul(gw, xh), [-1], true)))), unbroadcast(mul(gy!, xh), w)];
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

/**
 * For logits [N, V] and int64 targets [N]: logp = log softmax(logits)[target] and the entropy of each row, [N]
 * each. One Softmax kernel forms p; the log-sum-exp comes from the largest probability (>= 1/V, so it never
 * underflows) as max(logits) - log(max(p)), and logp = logits[target] - lse. The rule
 * dlogits = g * (onehot(target) - p) reuses the forward pass's p. Entropy = lse - sum(p * logits) has no rule
 * (reporting only); nodes of whichever output is unused are pruned from the model.
 */
export function tokenLogProbs(logits: Tensor, targets: Tensor): { logp: Tensor; entropy: Tensor } {
  const g = logits.graph;
  const [p, idx, lp, ent] = g.noGrad(() => {
    const p0 = g.apply1('Softmax', [logits], { axis: -1 }, { dtype: logits.dtype, shape: logits.shape });
    const lse0 = sub(max(logits, [-1], true), log(max(p0, [-1], true)));
    const idx0 = unsqueeze(targets, [-1]);
    const lp0 = sub(gatherElements(logits, idx0, 1), lse0);
    return [p0, idx0, lp0, squeeze(sub(lse0, sum(mul(p0, logits), [-1], true)), [-1])];
  });
  const out = g.attach(lp, [logits], ([gy]) => [
    g.apply1('ScatterElements', [mul(p, neg(gy!)), idx, gy!], { axis: 1, reduction: 'add' }, { dtype: logits.dtype, shape: logits.shape }),
  ]);
  return { logp: squeeze(out, [-1]), entropy: ent };
}
