// Reductions (axes are inputs from opset 18) with their derivative rules: the gradient of a sum is the output
// gradient broadcast back over the reduced axes.
import type { Dim, Tensor } from '../graph.ts';
import { mul, shapeOf } from './elementwise.ts';

function norm(axes: readonly number[], rank: number): number[] {
  return axes.map((a) => (a < 0 ? a + rank : a)).sort((x, y) => x - y);
}

function reducedShape(shape: readonly Dim[], axes: number[], keepdims: boolean): Dim[] {
  const out: Dim[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

/** Broadcasts a reduced gradient back to x's shape. */
function expandBack(g: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  const graph = g.graph;
  let kept = g;
  if (!keepdims) kept = graph.apply1('Unsqueeze', [g, graph.ints(axes)], {}, { dtype: g.dtype, shape: reducedShape(x.shape, axes, true) });
  return graph.apply1('Expand', [kept, shapeOf(x)], {}, { dtype: g.dtype, shape: x.shape });
}

/** Sum over `axes` (all axes when omitted). */
export function sum(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  const g = x.graph;
  const ax = norm(axes ?? x.shape.map((_, i) => i), x.rank);
  return g.apply1('ReduceSum', [x, g.ints(ax)], { keepdims: keepdims ? 1 : 0 }, { dtype: x.dtype, shape: reducedShape(x.shape, ax, keepdims) }, ([gy]) => [expandBack(gy!, x, ax, keepdims)]);
}

/** Number of elements over `axes` as a scalar of x's dtype (a constant when those dims are static). */
export function countOver(x: Tensor, axes: readonly number[]): Tensor {
  const g = x.graph;
  const ax = norm(axes, x.rank);
  const dims = ax.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) return g.scalar((dims as number[]).reduce((p, d) => p * d, 1), x.dtype);
  return g.noGrad(() => {
    const picked = g.apply1('Gather', [shapeOf(x), g.ints(ax)], { axis: 0 }, { dtype: 'int64', shape: [ax.length] });
    const n = g.apply1('ReduceProd', [picked], { keepdims: 0 }, { dtype: 'int64', shape: [] });
    return g.apply1('Cast', [n], { to: x.dtype === 'float64' ? 11 : 1 }, { dtype: x.dtype, shape: [] });
  });
}

/** Mean over `axes` (all axes when omitted). */
export function mean(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  const g = x.graph;
  const ax = norm(axes ?? x.shape.map((_, i) => i), x.rank);
  const dims = ax.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) {
    // One fused ReduceMean node; its rule spreads the gradient evenly.
    const n = (dims as number[]).reduce((p, d) => p * d, 1);
    return g.apply1('ReduceMean', [x, g.ints(ax)], { keepdims: keepdims ? 1 : 0 }, { dtype: x.dtype, shape: reducedShape(x.shape, ax, keepdims) }, ([gy]) => [
      expandBack(mul(gy!, 1 / n), x, ax, keepdims),
    ]);
  }
  return mul(sum(x, ax, keepdims), g.noGrad(() => g.apply1('Reciprocal', [countOver(x, ax)], {}, { dtype: x.dtype, shape: [] })));
}

/** Max over `axes` (no gradient: used for numerical stabilisation only). */
export function max(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  const g = x.graph;
  const ax = norm(axes, x.rank);
  return g.apply1('ReduceMax', [x, g.ints(ax)], { keepdims: keepdims ? 1 : 0 }, { dtype: x.dtype, shape: reducedShape(x.shape, ax, keepdims) });
}
