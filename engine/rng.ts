// A small seeded PRNG whose whole state is a plain JSON value, so a training run can checkpoint it and resume
// the exact same random stream (weight init, sampling). xoshiro128** is used because it needs only 32-bit integer
// ops (Math.imul), which JS performs identically on every machine; the float transforms use only IEEE-exact ops
// plus V8's own (platform-independent) Math.log/cos/sin.
import { createHash } from 'node:crypto';

export interface RngState {
  algorithm: 'xoshiro128**';
  /** The four 32-bit state words (unsigned). */
  s: [number, number, number, number];
  /** Second Box-Muller output waiting to be returned by normal(), or null. Part of the state so resume is exact. */
  spareNormal: number | null;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_53 = 9007199254740992;

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function isU32(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < TWO_POW_32;
}

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null;

  private constructor(words: readonly number[], spare: number | null) {
    [this.s0, this.s1, this.s2, this.s3] = words;
    this.spare = spare;
  }

  /**
   * A generator for (seed, stream). Different stream labels give independent streams from one user seed
   * (e.g. one per weight tensor), so adding or reordering consumers never shifts anyone else's numbers.
   */
  static fromSeed(seed: number | bigint | string, stream = ''): Rng {
    if (typeof seed === 'number' && !(Number.isSafeInteger(seed) && seed >= 0)) {
      throw new Error(`Rng seed must be a non-negative safe integer, got ${seed}`);
    }
    // SHA-256 spreads any seed/label into 128 well-mixed bits; xoshiro only needs them not to be all zero.
    const digest = createHash('sha256').update(`agentrl-rng\u0000${String(seed)}\u0000${stream}`).digest();
    const words: number[] = [0, 1, 2, 3].map((i) => digest.readUInt32LE(4 * i));
    if ((words[0] | words[1] | words[2] | words[3]) === 0) words[0] = 1;
    return new Rng(words, null);
  }

  static fromState(state: RngState): Rng {
    if (state === null || typeof state !== 'object') throw new Error('RngState must be an object');
    if (state.algorithm !== 'xoshiro128**') {
      throw new Error(`RngState.algorithm: expected "xoshiro128**", got ${JSON.stringify(state.algorithm)}`);
    }
    if (!Array.isArray(state.s) || state.s.length !== 4 || !state.s.every(isU32)) {
      throw new Error('RngState.s: expected four unsigned 32-bit integers');
    }
    if (state.s.every((w) => w === 0)) throw new Error('RngState.s: the all-zero state is invalid for xoshiro');
    if (state.spareNormal !== null && !(typeof state.spareNormal === 'number' && Number.isFinite(state.spareNormal))) {
      throw new Error('RngState.spareNormal: expected a finite number or null');
    }
    return new Rng(state.s, state.spareNormal);
  }

  state(): RngState {
    return { algorithm: 'xoshiro128**', s: [this.s0, this.s1, this.s2, this.s3], spareNormal: this.spare };
  }

  /** An independent child stream (derived from the current state and a label) without advancing this one. */
  fork(label: string): Rng {
    return Rng.fromSeed(`${this.s0}.${this.s1}.${this.s2}.${this.s3}`, label);
  }

  /** Uniform integer in [0, 2^32). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / TWO_POW_53;
  }

  /** Uniform integer in [0, n), unbiased (rejection sampling), for n up to 2^32. */
  int(n: number): number {
    if (!(Number.isInteger(n) && n > 0 && n <= TWO_POW_32)) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal sample (Box-Muller; both outputs of a pair are used). */
  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /**
   * Fills `out` with N(mean, std^2) samples (rounded to f32): exactly the values of repeated normal() calls, with
   * the generator inlined (no call per value, which matters when initialising hundreds of millions of weights).
   */
  fillNormal(out: Float32Array, mean = 0, std = 1): Float32Array {
    let i = 0;
    if (out.length > 0 && this.spare !== null) out[i++] = mean + std * this.normal();
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    const u = new Float64Array(4);
    for (; i + 1 < out.length; i += 2) {
      for (let k = 0; k < 4; k++) {
        // One xoshiro128** step (same arithmetic as nextU32).
        const r = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
        const t = (s1 << 9) >>> 0;
        s2 = (s2 ^ s0) >>> 0;
        s3 = (s3 ^ s1) >>> 0;
        s1 = (s1 ^ s2) >>> 0;
        s0 = (s0 ^ s3) >>> 0;
        s2 = (s2 ^ t) >>> 0;
        s3 = rotl(s3, 11);
        u[k] = r;
      }
      const u1 = 1 - ((u[0] >>> 5) * 67108864 + (u[1] >>> 6)) / TWO_POW_53;
      const u2 = ((u[2] >>> 5) * 67108864 + (u[3] >>> 6)) / TWO_POW_53;
      const r = Math.sqrt(-2 * Math.log(u1));
      const theta = 2 * Math.PI * u2;
      out[i] = mean + std * (r * Math.cos(theta));
      out[i + 1] = mean + std * (r * Math.sin(theta));
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    if (i < out.length) out[i] = mean + std * this.normal(); // odd tail: leaves the pair's sine pending, like normal()
    return out;
  }
}
