// Training losses over per-token log-probs, each reduced to scalars inside the graph. Every scalar is a masked
// SUM times `scale` (an input: 1 / the number of loss tokens in the whole mini-batch), so summing a quantity over
// the micro-batches of a mini-batch gives its token-mean over the mini-batch, and gradients accumulate exactly.
import type { Graph, Tensor } from './graph/graph.ts';
import { add, cast, clip, exp, greater, less, and, maximum, minimum, mul, neg, sub, where } from './graph/ops/elementwise.ts';
import { sum } from './graph/ops/reduce.ts';

export interface SftLoss {
  kind: 'sft';
}

/**
 * GRPO policy loss of the GRPO-TCR recipe (docs/engine.md, "Using it"): clip-higher (ratio clipped to
 * [1 - epsLow, 1 + epsHigh]), dual clip at dualClipC for negative advantages, token-mean over the mini-batch.
 */
export interface GrpoLoss {
  kind: 'grpo';
  epsLow: number;
  epsHigh: number;
  /** Dual-clip constant c (> 1) for negative advantages. */
  dualClipC: number;
  /** Clamp on logp_new - logp_old before exp (recipe: 20). */
  logRatioClamp?: number;
}

export type LossSpec = SftLoss | GrpoLoss;

export interface LossInputs {
  /** Per-token log-probs of the targets, [M] (a train step's loss tokens). */
  logp: Tensor;
  /** 0/1 loss mask [M] (graph float type). */
  mask: Tensor;
  /** 1 / (loss tokens in the mini-batch), scalar. */
  scale: Tensor;
}

export interface LossGraph {
  loss: Tensor;
  /** Named scalar metrics (each a scaled masked sum, like the loss). */
  metrics: Record<string, Tensor>;
}

function maskedMean(x: Tensor, inp: LossInputs): Tensor {
  return mul(sum(mul(x, inp.mask)), inp.scale);
}

/** SFT: sum(CE * mask) / sum(mask). */
export function sftLoss(inp: LossInputs): LossGraph {
  const loss = maskedMean(neg(inp.logp), inp);
  return { loss, metrics: { loss } };
}

/** Inputs the GRPO loss adds to a graph: rollout-time log-probs and per-token advantages [M], and its knobs. */
export function grpoInputs(g: Graph): { oldLogp: Tensor; advantages: Tensor; epsLow: Tensor; epsHigh: Tensor; dualClipC: Tensor; logRatioClamp: Tensor } {
  return {
    oldLogp: g.input('old_logp', g.float, ['M']),
    advantages: g.input('advantages', g.float, ['M']),
    epsLow: g.input('eps_low', g.float, []),
    epsHigh: g.input('eps_high', g.float, []),
    dualClipC: g.input('dual_clip_c', g.float, []),
    logRatioClamp: g.input('log_ratio_clamp', g.float, []),
  };
}

/**
 * rho = exp(clamp(logp - old, -k, k)); L1 = max(-A rho, -A clip(rho, 1 - eps_low, 1 + eps_high));
 * L = min(L1, -A c) where A < 0, else L1; loss = token-mean of L. Metrics (as verl names them): pg_clipfrac
 * (the clipped branch is the larger), pg_clipfrac_lower (the dual clip binds), ppo_kl (mean of old - new).
 */
export function grpoLoss(inp: LossInputs, gi: ReturnType<typeof grpoInputs>): LossGraph {
  const g = inp.logp.graph;
  const logRatio = sub(inp.logp, gi.oldLogp);
  const rho = exp(clip(logRatio, neg(gi.logRatioClamp), gi.logRatioClamp));
  const negA = neg(gi.advantages);
  const l1a = mul(negA, rho);
  const l1b = mul(negA, clip(rho, sub(1, gi.epsLow), add(1, gi.epsHigh)));
  const l1 = maximum(l1a, l1b);
  const dual = mul(negA, gi.dualClipC);
  const negative = less(gi.advantages, 0);
  const perToken = where(negative, minimum(l1, dual), l1);
  const loss = maskedMean(perToken, inp);
  const metrics = g.noGrad(() => {
    const asFloat = (b: Tensor) => cast(b, g.float);
    return {
      loss,
      pg_clipfrac: maskedMean(asFloat(greater(l1b, l1a)), inp),
      pg_clipfrac_lower: maskedMean(asFloat(and(negative, greater(l1, dual))), inp),
      ppo_kl: maskedMean(neg(logRatio), inp),
    };
  });
  return { loss, metrics };
}
