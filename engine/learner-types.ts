// The learner's options, state and result types (engine/learner.ts).
import type { FloatType } from './graph/graph.ts';
import type { RngState } from './rng.ts';
import type { Device, DeviceOptions } from './runtime/device.ts';
import type { FloatArray, Weights } from './tensors.ts';

export interface OptimizerConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Global gradient-norm clip (0 = none). */
  maxGradNorm: number;
}

export const DEFAULT_OPTIMIZER: OptimizerConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, maxGradNorm: 1.0 };

export interface LearnerOptions<F extends FloatType = FloatType> {
  /** Float type of the programs (float64 for gradient checks), and of the weights and gradients it hands out. Default float32. */
  dtype?: F;
  /** Share a device (e.g. with a Sampler reading the same weights); otherwise the learner opens its own. */
  device?: Device;
  deviceOptions?: DeviceOptions;
  optimizer?: Partial<OptimizerConfig>;
  /** Seed of the learner's RNG stream (saved with its state). */
  seed?: number;
  /** Store-name prefix of the weights on the device (default: '<this learner's namespace>w/'). */
  prefix?: string;
  /**
   * 'auto' (default): batches padded only at the end run the fused causal attention kernel when it is usable
   * (attention-choice.ts: float32, CPU provider, head_dim a multiple of 8); every other batch (left padding,
   * holes, float64, other providers, other head_dims) the explicit masked attention. 'whole-layer': the same, but long rows are never split into query blocks nor a
   * batch of them into rows (for comparisons; see attentionMemory). 'masked': always the explicit form.
   */
  attention?: 'auto' | 'whole-layer' | 'masked';
  /**
   * On the fused attention path, a train step keeps every layer's attention probabilities for its backward
   * while they fit in this many bytes (layers x rows x heads x T^2 x 4); past that, each layer recomputes its
   * own in the backward, so that one layer's are alive at a time. Default 1 GiB: past about that much,
   * recomputing was measured faster as well as smaller (docs/BENCHMARKS.md, "Engine design measurements").
   * A row of 768 tokens or more, or whose one layer's probabilities exceed it, runs in blocks of queries
   * instead (AttentionKind 'causal-blocked-N', attention-choice.ts), one row at a time (byRow), in a train step
   * and in scoring alike.
   */
  attentionMemory?: number;
  /**
   * A micro-batch whose pass would need more than this many bytes (engine/memory.ts: attention, vocabulary head,
   * activations, weights and optimizer state) is refused before anything runs, with an error that names it,
   * instead of the process being killed for memory mid-run. Default: the machine's memory on the CPU provider;
   * no limit on other providers (their memory is not the host's).
   */
  memoryLimit?: number;
}

export const DEFAULT_ATTENTION_MEMORY = 2 ** 30;

/** What a checkpoint needs besides the weights (matches engine/checkpoint.ts TrainingState minus `extra`). */
export interface LearnerState<D extends FloatArray = Float32Array> {
  step: number;
  optimizer: { m: Weights<D>; v: Weights<D> };
  rng: RngState;
}

export interface TrainStepResult {
  /** Mini-batch loss (token-mean over every micro-batch's loss tokens). */
  loss: number;
  gradNorm: number;
  /** True when the gradient norm was not finite and nothing was updated. */
  skipped: boolean;
  lossTokens: number;
  /** The loss's metrics, token-means over the mini-batch (GRPO: pg_clipfrac, pg_clipfrac_lower, ppo_kl). */
  metrics: Record<string, number>;
  step: number;
}
