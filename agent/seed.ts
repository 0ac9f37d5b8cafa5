// The sampling seed of one trajectory, a function of (recipe seed, step, prompt uid, sample index) only: a retried
// rollout activity, on any worker and in any order, draws the same tokens for the same trajectory.
import { sha256Bytes } from '../core/digest.ts';
import { canonicalJson } from '../core/canonical-json.ts';

/** A non-negative safe integer (48 bits of a SHA-256 over the four keys). */
export function trajectorySeed(seed: number, step: number, promptUid: string, sampleIndex: number): number {
  const hex = sha256Bytes(canonicalJson(['agentrl-trajectory', seed, step, promptUid, sampleIndex]));
  return parseInt(hex.slice(0, 12), 16);
}
