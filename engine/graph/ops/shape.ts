// Shape and indexing ops with their derivative rules: reshape/transpose/unsqueeze invert themselves, concat
// splits, slice pads, and gathers scatter-add their gradient back (ScatterND / ScatterElements, reduction add).
import type { Dim, Tensor } from '../graph.ts';
import { shapeOf } from './elementwise.ts';

/**
 * Reshape to `dims`. A numeric dim is literal; a symbolic dim equal to x's dim at the same index is copied (0),
 * any other symbolic dim is inferred (-1, at most one). For shapes known only at run time pass `shape`.
 */
export function reshape(x: Tensor, dims: readonly Dim[], shape?: Tensor): Tensor {
  const g = x.graph;
  let target = shape;
  if (!target) {
    const spec = dims.map((d, i) => (typeof d === 'number' ? d : x.shape[i] === d ? 0 : -1));
    if (spec.filter((d) => d === -1).length > 1) throw new Error(`reshape: cannot infer [${dims.join(', ')}] from [${x.shape.join(', ')}]`);
    target = g.ints(spec);
  }
  return g.apply1('Reshape', [x, target], {}, { dtype: x.dtype, shape: dims }, ([gy]) => [reshape(gy!, x.shape, shapeOf(x)), null]);
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  const inv = perm.map((_, i) => perm.indexOf(i));
  return x.graph.apply1('Transpose', [x], { perm: [...perm] }, { dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }, ([gy]) => [transpose(gy!, inv)]);
}

/** Swaps the last two axes. */
export function transposeLast2(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const g = x.graph;
  const rank = x.rank + axes.length;
  const ax = axes.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  const out: Dim[] = [];
  for (let i = 0, j = 0; i < rank; i++) out.push(ax.includes(i) ? 1 : x.shape[j++]);
  return g.apply1('Unsqueeze', [x, g.ints(ax)], {}, { dtype: x.dtype, shape: out }, ([gy]) => [squeeze(gy!, ax), null]);
}

export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const g = x.graph;
  const ax = axes.map((a) => (a < 0 ? a + x.rank : a));
  return g.apply1('Squeeze', [x, g.ints(ax)], {}, { dtype: x.dtype, shape: x.shape.filter((_, i) => !ax.includes(i)) }, ([gy]) => [unsqueeze(gy!, ax), null]);
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const g = xs[0].graph;
  const ax = axis < 0 ? axis + xs[0].rank : axis;
  const sizes = xs.map((x) => x.shape[ax]);
  const total: Dim = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((a, b) => a + b, 0) : sizes.join('+');
  const shape = xs[0].shape.map((d, i) => (i === ax ? total : d));
  return g.apply1('Concat', [...xs], { axis: ax }, { dtype: xs[0].dtype, shape }, ([gy]) => {
    const splits = g.apply1('Concat', xs.map((x) => g.apply1('Gather', [shapeOf(x), g.ints([ax])], { axis: 0 }, { dtype: 'int64', shape: [1] })), { axis: 0 }, { dtype: 'int64', shape: [xs.length] });
    return g.apply('Split', [gy!, splits], { axis: ax }, xs.map((x) => ({ dtype: x.dtype, shape: x.shape })));
  });
}

/** Dim `axis` of x's shape as int64: a scalar, or with `asVector` a [1] tensor (for Expand's and Concat's shapes). */
export function dimOf(x: Tensor, axis: number, asVector = false): Tensor {
  const g = x.graph;
  const index = asVector ? g.ints([axis]) : g.constant([axis], 'int64', []);
  return g.apply1('Gather', [shapeOf(x), index], { axis: 0 }, { dtype: 'int64', shape: asVector ? [1] : [] });
}

/** Splits x along `axis` into parts of the given static sizes; the gradient concatenates theirs (zeros where unused). */
export function split(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  const g = x.graph;
  const ax = axis < 0 ? axis + x.rank : axis;
  const outs = sizes.map((n) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === ax ? n : d)) }));
  const parts: Tensor[] = g.apply('Split', [x, g.ints(sizes)], { axis: ax }, outs, (gys) => [
    g.apply1('Concat', gys.map((gy, i) => gy ?? zerosOfShape(parts[i])), { axis: ax }, { dtype: x.dtype, shape: x.shape }),
    null,
  ]);
  return parts;
}

/** x[..., start:end, ...] along `axis` (static bounds; the axis must be static for the gradient). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const g = x.graph;
  const ax = axis < 0 ? axis + x.rank : axis;
  const dim = x.shape[ax];
  const len: Dim = typeof dim === 'number' ? Math.min(end, dim) - start : `${dim}[${start}:${end}]`;
  const shape = x.shape.map((d, i) => (i === ax ? len : d));
  return g.apply1('Slice', [x, g.ints([start]), g.ints([end]), g.ints([ax])], {}, { dtype: x.dtype, shape }, ([gy]) => {
    if (typeof dim !== 'number') throw new Error('slice: gradient needs a static dim on the sliced axis');
    const pads = new Array<number>(2 * x.rank).fill(0);
    pads[ax] = start;
    pads[x.rank + ax] = dim - Math.min(end, dim);
    return [g.apply1('Pad', [gy!, g.ints(pads)], {}, { dtype: x.dtype, shape: x.shape }), null, null, null];
  });
}

function zerosOfShape(like: Tensor): Tensor {
  const g = like.graph;
  const value = { kind: 'tensor' as const, v: { name: 'value', dtype: like.dtype, dims: [1], raw: new Uint8Array(like.dtype === 'float64' ? 8 : 4) } };
  return g.apply1('ConstantOfShape', [shapeOf(like)], { value }, { dtype: like.dtype, shape: like.shape });
}

/** Rows of an activation x [N, H] at int64 `rows` [M] -> [M, H]; the gradient scatters back into zeros [N, H]. */
export function gatherRows(x: Tensor, rows: Tensor): Tensor {
  const g = x.graph;
  return g.apply1('Gather', [x, rows], { axis: 0 }, { dtype: x.dtype, shape: [rows.shape[0], x.shape[1]] }, ([gy]) => {
    const idx = g.apply1('Unsqueeze', [rows, g.ints([-1])], {}, { dtype: 'int64', shape: [rows.shape[0], 1] });
    return [g.apply1('ScatterND', [zerosOfShape(x), idx, gy!], { reduction: 'add' }, { dtype: x.dtype, shape: x.shape }), null];
  });
}

/** Rows of `table` [V, H] picked by int64 `ids` [...] -> [..., H]; the gradient scatter-adds into the table. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const g = table.graph;
  return g.apply1('Gather', [table, ids], { axis: 0 }, { dtype: table.dtype, shape: [...ids.shape, table.shape[1]] }, ([gy]) => {
    const idx = g.apply1('Unsqueeze', [ids, g.ints([-1])], {}, { dtype: 'int64', shape: [...ids.shape, 1] });
    const dense = g.apply1('ScatterND', [zerosOfShape(table), idx, gy!], { reduction: 'add' }, { dtype: table.dtype, shape: table.shape });
    g.scatterGrads.set(dense.name, { indices: idx, updates: gy!, base: null });
    return [dense, null];
  });
}

/** GatherElements(x, idx, axis); the gradient scatter-adds into zeros of x's shape. */
export function gatherElements(x: Tensor, idx: Tensor, axis: number): Tensor {
  const g = x.graph;
  const ax = axis < 0 ? axis + x.rank : axis;
  return g.apply1('GatherElements', [x, idx], { axis: ax }, { dtype: x.dtype, shape: idx.shape }, ([gy]) => [
    g.apply1('ScatterElements', [zerosOfShape(x), idx, gy!], { axis: ax, reduction: 'add' }, { dtype: x.dtype, shape: x.shape }),
    null,
  ]);
}
