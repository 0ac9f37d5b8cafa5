// The WebAssembly SIMD AdamW kernel against the scalar update it replaces, across chunk edges and odd lengths
// (f32 arithmetic against f64: agreement to ~1e-7 absolute, the rounding of the terms).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CHUNK, simdAdamw } from '../../engine/runtime/adamw-simd.mjs';
import { Rng } from '../../engine/rng.ts';

type Args = [number, number, number, number, number, number, number, number];

/** torch.optim.AdamW's element update in float64 (the reference; the device's scalar kernel computes the same). */
function reference(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, ...[coef, c1, beta2, c2, stepSize, invBc2Sqrt, eps, decay]: Args): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] * coef;
    const mi = m[i] + c1 * (gi - m[i]);
    const vi = v[i] * beta2 + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
}

test('SIMD AdamW matches the scalar update (lengths 1, 3, 4, 7, CHUNK - 1, 2 CHUNK + 5; two steps)', () => {
  let tails = 0;
  const simd = simdAdamw((...a) => {
    tails += a[0].length;
    reference(...a);
  });
  assert.ok(simd, 'WebAssembly SIMD is available on Node 20');
  const rng = Rng.fromSeed(1, 'adamw simd');
  for (const n of [1, 3, 4, 7, CHUNK - 1, 2 * CHUNK + 5]) {
    const init = () => Float32Array.from({ length: n }, () => rng.normal());
    const w = init();
    const m = Float32Array.from(init(), (x) => 0.01 * x);
    const v = Float32Array.from(init(), (x) => 1e-4 * x * x);
    const [w2, m2, v2] = [w.slice(), m.slice(), v.slice()];
    for (let step = 1; step <= 2; step++) {
      const g = init();
      const args: Args = [0.7, 0.1, 0.95, 0.05, 1e-3 / (1 - 0.9 ** step), 1 / Math.sqrt(1 - 0.95 ** step), 1e-8, 1 - 1e-3 * 0.01];
      simd!(w, g, m, v, ...args);
      reference(w2, g, m2, v2, ...args);
    }
    for (const [got, want, what] of [[w, w2, 'w'], [m, m2, 'm'], [v, v2, 'v']] as const) {
      for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-7 + 1e-5 * Math.abs(want[i]), `n=${n} ${what}[${i}]: ${got[i]} vs ${want[i]}`);
    }
  }
  assert.equal(tails, 2 * (1 + 3 + 3 + 3 + 1), 'only the last n % 4 elements of a tensor take the scalar path');
});
