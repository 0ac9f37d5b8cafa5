// The sampler tests' model and reference: the untied fixture model on one device, and greedy decoding by
// recomputing the whole forward pass (the learner's logits) for every new token, which a KV-cached decode must
// reproduce.
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { readSafetensors } from '../../engine/safetensors.ts';
import { Device } from '../../engine/runtime/device.ts';
import { Learner } from '../../engine/learner.ts';
import type { Weights } from '../../engine/tensors.ts';

const DIR = new URL('../fixtures/engine/qwen3_untied/', import.meta.url).pathname;

export interface SamplerFixture {
  config: Qwen3Config;
  weights: Weights;
  device: Device;
  /** Greedy continuation of `tokens` (n tokens and their log-probs), recomputing the forward for each. */
  greedyByRecompute(tokens: number[], n: number): Promise<{ tokens: number[]; logprobs: number[] }>;
  close(): Promise<void>;
}

export async function samplerFixture(threads: number): Promise<SamplerFixture> {
  const config = (await readQwen3Config(`${DIR}config.json`)).config;
  const weights = (await readSafetensors(`${DIR}model.safetensors`)).tensors;
  const device = new Device({ threads });
  const reference = await Learner.create(config, weights, { device, attention: 'masked' });
  const v = config.vocabSize;
  const greedyByRecompute = async (tokens: number[], n: number) => {
    const seq = [...tokens];
    const out = { tokens: [] as number[], logprobs: [] as number[] };
    for (let i = 0; i < n; i++) {
      const { data } = await reference.logits({ inputIds: [seq] });
      const row = data.subarray((seq.length - 1) * v, seq.length * v);
      let best = 0;
      for (let k = 1; k < v; k++) if (row[k] > row[best]) best = k;
      const m = row[best];
      const lse = m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
      out.tokens.push(best);
      out.logprobs.push(row[best] - lse);
      seq.push(best);
    }
    return out;
  };
  return { config, weights, device, greedyByRecompute, close: () => device.close() };
}
