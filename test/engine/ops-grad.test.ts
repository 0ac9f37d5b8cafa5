// Finite-difference checks (float64) of every op's derivative rule in engine/graph/ops.
import { test, before, after } from 'node:test';
import { Device } from '../../engine/runtime/device.ts';
import { gradCheck } from './gradcheck.ts';
import type { CheckInput, GradCheckOptions } from './gradcheck.ts';
import * as E from '../../engine/graph/ops/elementwise.ts';
import * as R from '../../engine/graph/ops/reduce.ts';
import * as S from '../../engine/graph/ops/shape.ts';
import * as L from '../../engine/graph/ops/linalg.ts';
import * as N from '../../engine/graph/ops/nn.ts';

let device: Device;
before(() => {
  device = new Device({ threads: 1 });
});
after(() => device.close());

const x = (...shape: number[]): CheckInput => ({ shape });
const positive = (...shape: number[]): CheckInput => ({ shape, values: Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => 0.5 + ((i * 7) % 11) / 5) });
const check = (name: string, o: GradCheckOptions) => test(name, async () => void (await gradCheck(device, o)));

// Elementwise, with broadcasting in both directions.
check('add (broadcast)', { inputs: [x(2, 3, 4), x(3, 1)], f: ([a, b]) => E.add(a, b) });
check('sub (broadcast)', { inputs: [x(4), x(2, 3, 4)], f: ([a, b]) => E.sub(a, b) });
check('mul (broadcast, scalar)', { inputs: [x(2, 3), x(1, 3), x()], f: ([a, b, c]) => E.mul(E.mul(a, b), c) });
check('div', { inputs: [x(2, 3), positive(2, 1)], f: ([a, b]) => E.div(a, b) });
check('maximum / minimum', { inputs: [x(3, 4), x(4)], f: ([a, b]) => E.add(E.maximum(a, b), E.mul(E.minimum(a, b), 2)) });
check('where', {
  inputs: [x(2, 3), x(3)],
  fixed: [{ dtype: 'bool', shape: [2, 3], values: [1, 0, 1, 0, 0, 1] }],
  f: ([a, b], [c]) => E.where(c, a, b),
});
check('neg, exp, sigmoid, sin, cos', { inputs: [x(5)], f: ([a]) => E.add(E.neg(E.exp(a)), E.mul(E.sigmoid(a), E.add(E.sin(a), E.cos(a)))) });
check('log, sqrt, reciprocal, rsqrt', { inputs: [positive(6)], f: ([a]) => E.add(E.add(E.log(a), E.sqrt(a)), E.add(E.reciprocal(a), E.rsqrt(a))) });
check('silu', { inputs: [x(7)], f: ([a]) => E.silu(a) });
check('clip (inside and outside the range)', { inputs: [{ shape: [6], values: [-3, -0.5, 0.1, 0.7, 2.2, -1.7] }], f: ([a]) => E.clip(a, -1, 1) });
check('cast float64 -> float32 -> float64', { inputs: [x(4)], f: ([a]) => E.cast(E.mul(E.cast(a, 'float32'), 3), 'float64'), eps: 1e-2, rtol: 1e-4 });

// Reductions.
check('sum over axes, keepdims both ways', { inputs: [x(2, 3, 4)], f: ([a]) => E.add(R.sum(a, [1]), E.mul(R.sum(R.sum(a, [0, 2], true), [1], true), R.sum(a, [1]))) });
check('sum over everything', { inputs: [x(2, 3)], f: ([a]) => R.sum(E.mul(a, a)) });
check('mean (static dims)', { inputs: [x(3, 4)], f: ([a]) => R.mean(E.mul(a, a), [-1], true) });
check('mean (symbolic dims)', { inputs: [{ shape: [3, 4], dims: ['B', 4] }], f: ([a]) => S.reshape(R.mean(E.mul(a, a), [0]), [4]) });

// Shape and indexing.
check('reshape + transpose', { inputs: [x(2, 3, 4)], f: ([a]) => S.transpose(S.reshape(a, [6, 4]), [1, 0]) });
check('unsqueeze + squeeze', { inputs: [x(3, 2)], f: ([a]) => E.mul(S.squeeze(S.unsqueeze(a, [0, 2]), [0]), S.unsqueeze(a, [1])) });
check('concat', { inputs: [x(2, 3), x(2, 1), x(2, 2)], f: ([a, b, c]) => S.concat([a, b, c], 1) });
check('split (one part unused: its gradient is zeros)', {
  inputs: [x(2, 7)],
  f: ([a]) => {
    const [p, , r] = S.split(a, 1, [2, 3, 2]);
    return E.add(E.mul(p, r), p);
  },
});
check('slice', { inputs: [x(3, 6)], f: ([a]) => E.add(S.slice(a, -1, 1, 4), S.slice(a, 1, 3, 6)) });
check('embedding (repeated ids)', {
  inputs: [x(5, 3)],
  fixed: [{ dtype: 'int64', shape: [2, 3], values: [0, 4, 4, 2, 0, 1] }],
  f: ([t], [ids]) => S.embedding(t, ids),
});
check('gatherElements', {
  inputs: [x(3, 4)],
  fixed: [{ dtype: 'int64', shape: [3, 2], values: [0, 3, 2, 2, 1, 0] }],
  f: ([a], [idx]) => S.gatherElements(a, idx, 1),
});
check('gatherRows (rows picked out of order)', {
  inputs: [x(5, 3)],
  fixed: [{ dtype: 'int64', shape: [3], values: [4, 0, 2] }],
  f: ([a], [rows]) => S.gatherRows(a, rows),
});

// Linear algebra.
check('matmul (batched, broadcast batch dims)', { inputs: [x(2, 3, 4), x(4, 5)], f: ([a, b]) => L.matmul(a, b) });
check('matmul (both batched)', { inputs: [x(2, 1, 3, 4), x(3, 4, 2)], f: ([a, b]) => L.matmul(a, b) });
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    check(`gemm transA=${transA} transB=${transB}`, {
      inputs: [x(...(transA ? [4, 3] : [3, 4])), x(...(transB ? [5, 4] : [4, 5]))],
      f: ([a, b]) => L.gemm(a, b, { transA, transB }),
    });
  }
}
check('linear', { inputs: [x(3, 4), x(6, 4)], f: ([a, w]) => L.linear(a, w) });

// NN ops with hand-written rules.
check('softmax', { inputs: [x(3, 5)], f: ([a]) => N.softmax(a) });
check('rmsNorm (x and weight)', { inputs: [x(2, 3, 8), x(8)], f: ([a, w]) => N.rmsNorm(a, w, 1e-6) });
check('rmsNorm of chosen slices (the others pass through as x * w)', { inputs: [x(2, 4, 3, 8), x(3, 8)], f: ([a, w]) => N.rmsNorm(a, w, 1e-6, [1, 0, 1]) });
check('rope', {
  inputs: [x(2, 3, 6)],
  fixed: [
    { dtype: 'float64', shape: [3, 6], values: Array.from({ length: 18 }, (_, i) => Math.cos(i * 0.37)) },
    { dtype: 'float64', shape: [3, 6], values: Array.from({ length: 18 }, (_, i) => Math.sin(i * 0.37)) },
  ],
  f: ([a], [c, s]) => N.rope(a, c, s),
});
check('headLogProbs (head Gemm + target log-probs; fused rule, transposed dense part + target rows)', {
  inputs: [x(4, 5), x(7, 5)],
  fixed: [{ dtype: 'int64', shape: [4], values: [0, 6, 3, 3] }],
  f: ([h, w], [t]) => N.headLogProbs(h, w, t).logp,
});
