// Host-side tensors: the currency between checkpoints, graphs and the learner. Weights live as f32 on the
// host (bf16/f16 files are widened at load; a float64 learner's are f64); names follow Hugging Face's Qwen3 parameter names.
export type FloatArray = Float32Array | Float64Array;

/** The host array of a program float type: a float64 learner hands out float64 weights and gradients. */
export type FloatArrayOf<F extends 'float32' | 'float64'> = F extends 'float64' ? Float64Array : Float32Array;

export interface HostTensor<D extends FloatArray = Float32Array> {
  shape: number[];
  data: D;
}

/** Parameters by Hugging Face name, e.g. `model.layers.0.self_attn.q_proj.weight` (shape [out, in]). */
export type Weights<D extends FloatArray = Float32Array> = Map<string, HostTensor<D>>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
