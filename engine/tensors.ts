// Host-side tensors: the currency between checkpoints, graphs and the learner. Weights live as f32 on the
// host (bf16/f16 files are widened at load); names follow Hugging Face's Qwen3 parameter names.
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Parameters by Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight` (shape [out, in]). */
export type Weights = Map<string, HostTensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
