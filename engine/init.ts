// Fresh weights for a Qwen3 config, as Hugging Face initialises Qwen3ForCausalLM: every matrix (embedding
// included) from N(0, initializer_range = 0.02), every RMSNorm scale 1. Each tensor draws from its own stream
// Rng.fromSeed(seed, name), so a tensor's values depend only on (seed, name, shape): the result is identical on
// every machine and does not change when layers are added or the map is iterated in another order.
import { Rng } from './rng.ts';
import { qwen3ParamShapes } from './config.ts';
import type { Qwen3Config } from './config.ts';
import { numel } from './tensors.ts';
import type { Weights } from './tensors.ts';

export interface InitOptions {
  /** Standard deviation of matrix entries (HF's initializer_range). */
  std?: number;
}

export function initWeights(cfg: Qwen3Config, seed: number, opts: InitOptions = {}): Weights {
  const std = opts.std ?? 0.02;
  if (!(Number.isFinite(std) && std >= 0)) throw new Error(`initWeights: std must be a finite non-negative number, got ${std}`);
  const weights: Weights = new Map();
  for (const [name, shape] of qwen3ParamShapes(cfg)) {
    const data = new Float32Array(numel(shape));
    if (shape.length === 1) data.fill(1); // every 1-D parameter of Qwen3 is an RMSNorm scale
    else Rng.fromSeed(seed, name).fillNormal(data, 0, std);
    weights.set(name, { shape: shape.slice(), data });
  }
  return weights;
}
