// Picking the next token from one row of logits, as Hugging Face's warpers do (temperature, then top-k, then
// top-p), with a caller-owned seeded RNG. The returned log-prob is the model's own (temperature 1, nothing cut),
// which is what the learner recomputes as logp_old.
import type { Rng } from './rng.ts';

export interface TokenChoice {
  /** 0 = greedy. */
  temperature: number;
  /** Keep the smallest set of most likely tokens whose probability reaches top_p (1 = off). */
  topP?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
}

export function validateChoice(c: TokenChoice): void {
  if (!(Number.isFinite(c.temperature) && c.temperature >= 0)) throw new Error(`sampling: temperature must be >= 0, got ${c.temperature}`);
  if (c.topP !== undefined && !(c.topP > 0 && c.topP <= 1)) throw new Error(`sampling: top_p must be in (0, 1], got ${c.topP}`);
  if (c.topK !== undefined && !(Number.isInteger(c.topK) && c.topK >= 0)) throw new Error(`sampling: top_k must be a non-negative integer, got ${c.topK}`);
}

/** Chooses a token from logits[offset, offset + vocab); `lse` is the row's log-sum-exp when already known. */
export function sampleToken(logits: Float32Array | Float64Array, offset: number, vocab: number, c: TokenChoice, rng: Rng, lse?: number): { token: number; logprob: number } {
  const row = logits.subarray(offset, offset + vocab);
  let best = 0;
  for (let i = 1; i < vocab; i++) if (row[i] > row[best]) best = i;
  const max = row[best];
  if (lse === undefined) {
    let sum = 0;
    for (let i = 0; i < vocab; i++) sum += Math.exp(row[i] - max);
    lse = max + Math.log(sum);
  }
  if (c.temperature === 0) return { token: best, logprob: row[best] - lse };

  // Unnormalised tempered probabilities.
  const p = new Float64Array(vocab);
  for (let i = 0; i < vocab; i++) p[i] = Math.exp((row[i] - max) / c.temperature);
  const topK = c.topK ?? 0;
  if (topK > 0 && topK < vocab) {
    const kth = Float64Array.from(p).sort()[vocab - topK]; // ties with the k-th value are kept
    for (let i = 0; i < vocab; i++) if (p[i] < kth) p[i] = 0;
  }
  let mass = 0;
  for (let i = 0; i < vocab; i++) mass += p[i];
  const topP = c.topP ?? 1;
  if (topP < 1) {
    // Every kept token has probability > (1 - top_p) / vocab, so only those need sorting.
    const floor = ((1 - topP) / vocab) * mass;
    const cand: number[] = [];
    for (let i = 0; i < vocab; i++) if (p[i] > 0 && p[i] >= floor) cand.push(i);
    cand.sort((a, b) => p[b] - p[a] || a - b);
    let before = 0;
    const keep = new Set<number>();
    for (const i of cand) {
      if (keep.size > 0 && before >= topP * mass) break;
      keep.add(i);
      before += p[i];
    }
    mass = 0;
    for (let i = 0; i < vocab; i++) {
      if (!keep.has(i)) p[i] = 0;
      mass += p[i];
    }
  }
  let u = rng.uniform() * mass;
  let token = -1;
  for (let i = 0; i < vocab; i++) {
    if (p[i] === 0) continue;
    token = i;
    u -= p[i];
    if (u < 0) break;
  }
  return { token, logprob: row[token] - lse };
}
