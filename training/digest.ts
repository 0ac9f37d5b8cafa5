// One digest for a model's parameters: what the audit records as "model digest" and what tells two models apart
// regardless of file layout (sharded or not, bf16 widened or not): the config fields the engine uses, then every
// tensor's name, shape and f32 bytes in canonical parameter order.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../core/canonical-json.ts';
import type { Qwen3Config } from '../engine/config.ts';
import { qwen3ParamShapes } from '../engine/config.ts';
import type { Weights } from '../engine/tensors.ts';

export function modelDigest(config: Qwen3Config, weights: Weights): string {
  const hash = createHash('sha256');
  hash.update(canonicalJson(config));
  for (const name of qwen3ParamShapes(config).keys()) {
    const t = weights.get(name);
    if (!t) throw new Error(`modelDigest: tensor "${name}" is missing`);
    hash.update(`\u0000${name}\u0000${t.shape.join(',')}\u0000`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest('hex');
}
