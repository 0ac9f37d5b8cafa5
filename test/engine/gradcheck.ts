// Finite-difference gradient checking in float64: build f in a Graph, differentiate sum(f(x) * R) for a fixed
// random R with the graph's autodiff, and compare with central differences of the same ONNX model.
import assert from 'node:assert/strict';
import { Graph } from '../../engine/graph/graph.ts';
import type { Dim, Tensor } from '../../engine/graph/graph.ts';
import { grad } from '../../engine/graph/autodiff.ts';
import { mul } from '../../engine/graph/ops/elementwise.ts';
import { sum } from '../../engine/graph/ops/reduce.ts';
import type { Device, DeviceTensor } from '../../engine/runtime/device.ts';
import { Rng } from '../../engine/rng.ts';

export interface CheckInput {
  shape: number[];
  /** Values (default: N(0, 1) from the check's seed). */
  values?: number[];
  /** Declared dims (default: `shape`); use names to check ops under symbolic dims. */
  dims?: Dim[];
}

export interface Fixed {
  dtype: 'int64' | 'float64' | 'bool';
  shape: number[];
  values: number[];
  dims?: Dim[];
}

export interface GradCheckOptions {
  inputs: CheckInput[];
  fixed?: Fixed[];
  f: (xs: Tensor[], fixed: Tensor[]) => Tensor;
  seed?: number;
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Check at most this many coordinates per input (spread evenly); the rest are trusted. */
  maxCoords?: number;
}

function feed(dtype: Fixed['dtype'], shape: number[], values: number[]): DeviceTensor {
  if (dtype === 'int64') return { dtype, shape, data: BigInt64Array.from(values.map((v) => BigInt(v))) };
  if (dtype === 'bool') return { dtype, shape, data: Uint8Array.from(values) };
  return { dtype, shape, data: Float64Array.from(values) };
}

/** Returns the worst relative error seen (asserting each coordinate against atol + rtol * |numeric|). */
export async function gradCheck(device: Device, o: GradCheckOptions): Promise<number> {
  const rng = Rng.fromSeed(o.seed ?? 1, 'gradcheck');
  const eps = o.eps ?? 1e-6;
  const atol = o.atol ?? 1e-7;
  const rtol = o.rtol ?? 1e-5;
  const g = new Graph('float64');
  const xs = o.inputs.map((inp, i) => g.param(`x${i}`, inp.dims ?? inp.shape));
  const fixed = (o.fixed ?? []).map((f, i) => g.input(`c${i}`, f.dtype, f.dims ?? f.shape));
  const y = o.f(xs, fixed);
  const shapeR = y.shape.map((d) => {
    if (typeof d !== 'number') throw new Error('gradCheck: f must produce a statically shaped output');
    return d;
  });
  const rVals = Array.from({ length: shapeR.reduce((a, b) => a * b, 1) }, () => rng.normal());
  const loss = sum(mul(y, g.constant(rVals, 'float64', shapeR)));
  g.output(loss, 'loss');
  const grads = grad(loss, xs);
  grads.forEach((gt, i) => g.output(gt, `g${i}`));
  const session = await device.load(g.toModel(), 'float64');

  const values = o.inputs.map((inp) => inp.values ?? Array.from({ length: inp.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()));
  const feeds = (vals: number[][]) => {
    const f: Record<string, DeviceTensor> = {};
    o.inputs.forEach((inp, i) => {
      if (session.inputs.includes(`x${i}`)) f[`x${i}`] = feed('float64', inp.shape, vals[i]);
    });
    (o.fixed ?? []).forEach((c, i) => {
      if (session.inputs.includes(`c${i}`)) f[`c${i}`] = feed(c.dtype, c.shape, c.values);
    });
    return f;
  };
  const analytic = await device.run(session, feeds(values), Object.fromEntries(o.inputs.map((_, i) => [`g${i}`, null])));
  const lossAt = async (vals: number[][]) => (await device.run(session, feeds(vals), { loss: null })).loss.data[0] as number;

  let worst = 0;
  for (let i = 0; i < o.inputs.length; i++) {
    const n = values[i].length;
    const step = Math.max(1, Math.floor(n / (o.maxCoords ?? n)));
    const ga = analytic[`g${i}`].data as Float64Array;
    assert.equal(ga.length, n, `gradient ${i} has ${ga.length} elements, expected ${n}`);
    for (let k = 0; k < n; k += step) {
      const plus = values.map((v) => v.slice());
      const minus = values.map((v) => v.slice());
      plus[i][k] += eps;
      minus[i][k] -= eps;
      const numeric = ((await lossAt(plus)) - (await lossAt(minus))) / (2 * eps);
      const err = Math.abs(ga[k] - numeric);
      worst = Math.max(worst, err / (atol + rtol * Math.abs(numeric)));
      assert.ok(err <= atol + rtol * Math.abs(numeric), `input ${i}[${k}]: analytic ${ga[k]} vs numeric ${numeric}`);
    }
  }
  await device.release(session);
  return worst;
}
