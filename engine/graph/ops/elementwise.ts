// Elementwise ops with numpy broadcasting, each with its derivative rule. Broadcasting must be static: a dim
// that is broadcast has to be the literal 1 in the graph (symbolic dims are taken as never being 1).
import type { DataType, Dim, Tensor } from '../graph.ts';

export type Num = Tensor | number;

/** A number becomes a scalar constant of `like`'s dtype. */
export function lift(x: Num, like: Tensor): Tensor {
  return typeof x === 'number' ? like.graph.scalar(x, like.dtype) : x;
}

function pair(a: Num, b: Num): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error('elementwise: at least one operand must be a tensor');
  const ta = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const tb = typeof b === 'number' ? lift(b, ta) : b;
  return [ta, tb];
}

export function broadcastShape(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const r = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < r; i++) {
    const da = i < r - a.length ? 1 : a[i - (r - a.length)];
    const db = i < r - b.length ? 1 : b[i - (r - b.length)];
    if (da === 1) out.push(db);
    else if (db === 1 || da === db || typeof da === 'string' || typeof db === 'string') out.push(da);
    else throw new Error(`broadcast: incompatible shapes [${a.join(', ')}] and [${b.join(', ')}]`);
  }
  return out;
}

/** Sums a gradient of a broadcast result back to the shape of the operand `like`. */
export function unbroadcast(g: Tensor, like: Tensor): Tensor {
  const graph = g.graph;
  const lead = g.rank - like.rank;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (like.shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g;
  const summed = graph.apply1('ReduceSum', [g, graph.ints(axes)], { keepdims: 1 }, { dtype: g.dtype, shape: g.shape.map((d, i) => (axes.includes(i) ? 1 : d)) });
  if (lead === 0) return summed;
  return graph.apply1('Reshape', [summed, shapeOf(like)], {}, { dtype: g.dtype, shape: like.shape });
}

/** Shape(x) as an int64 tensor. */
export function shapeOf(x: Tensor): Tensor {
  return x.graph.apply1('Shape', [x], {}, { dtype: 'int64', shape: [x.rank] });
}

function binary(op: string, a: Num, b: Num, rule?: (g: Tensor, a: Tensor, b: Tensor, y: Tensor) => [Tensor | null, Tensor | null], dtype?: DataType): Tensor {
  const [ta, tb] = pair(a, b);
  const out = { dtype: dtype ?? ta.dtype, shape: broadcastShape(ta.shape, tb.shape) };
  const y: Tensor = ta.graph.apply1(op, [ta, tb], {}, out, rule && (([g]) => {
    const [ga, gb] = rule(g!, ta, tb, y);
    return [ga && unbroadcast(ga, ta), gb && unbroadcast(gb, tb)];
  }));
  return y;
}

export const add = (a: Num, b: Num): Tensor => binary('Add', a, b, (g) => [g, g]);
export const sub = (a: Num, b: Num): Tensor => binary('Sub', a, b, (g) => [g, neg(g)]);
export const mul = (a: Num, b: Num): Tensor => binary('Mul', a, b, (g, x, z) => [mul(g, z), mul(g, x)]);
export const div = (a: Num, b: Num): Tensor => binary('Div', a, b, (g, _x, z, y) => [div(g, z), neg(div(mul(g, y), z))]);

/** Elementwise max; on ties the gradient goes to `a`. */
export const maximum = (a: Num, b: Num): Tensor =>
  binary('Max', a, b, (g, x, z) => {
    const pick = greaterOrEqual(x, z);
    return [where(pick, g, 0), where(pick, 0, g)];
  });

/** Elementwise min; on ties the gradient goes to `a`. */
export const minimum = (a: Num, b: Num): Tensor =>
  binary('Min', a, b, (g, x, z) => {
    const pick = lessOrEqual(x, z);
    return [where(pick, g, 0), where(pick, 0, g)];
  });

// Comparisons and logic: no gradient.
export const greater = (a: Num, b: Num): Tensor => binary('Greater', a, b, undefined, 'bool');
export const greaterOrEqual = (a: Num, b: Num): Tensor => binary('GreaterOrEqual', a, b, undefined, 'bool');
export const less = (a: Num, b: Num): Tensor => binary('Less', a, b, undefined, 'bool');
export const lessOrEqual = (a: Num, b: Num): Tensor => binary('LessOrEqual', a, b, undefined, 'bool');
export const and = (a: Tensor, b: Tensor): Tensor => binary('And', a, b, undefined, 'bool');

/** cond ? a : b (cond broadcasts too). */
export function where(cond: Tensor, a: Num, b: Num): Tensor {
  const [ta, tb] = pair(a, b);
  const shape = broadcastShape(cond.shape, broadcastShape(ta.shape, tb.shape));
  return cond.graph.apply1('Where', [cond, ta, tb], {}, { dtype: ta.dtype, shape }, ([g]) => [
    null,
    unbroadcast(where(cond, g!, 0), ta),
    unbroadcast(where(cond, 0, g!), tb),
  ]);
}

function unary(op: string, x: Tensor, rule: (g: Tensor, x: Tensor, y: Tensor) => Tensor): Tensor {
  const y: Tensor = x.graph.apply1(op, [x], {}, { dtype: x.dtype, shape: x.shape }, ([g]) => [rule(g!, x, y)]);
  return y;
}

export const neg = (x: Tensor): Tensor => unary('Neg', x, (g) => neg(g));
export const exp = (x: Tensor): Tensor => unary('Exp', x, (g, _x, y) => mul(g, y));
export const log = (x: Tensor): Tensor => unary('Log', x, (g, x0) => div(g, x0));
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x, (g, _x, y) => div(mul(g, 0.5), y));
export const reciprocal = (x: Tensor): Tensor => unary('Reciprocal', x, (g, _x, y) => neg(mul(g, mul(y, y))));
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x, (g, _x, y) => mul(g, mul(y, sub(1, y))));
export const cos = (x: Tensor): Tensor => unary('Cos', x, (g, x0) => neg(mul(g, sin(x0))));
export const sin = (x: Tensor): Tensor => unary('Sin', x, (g, x0) => mul(g, cos(x0)));

/** 1/sqrt(x); d/dx = -y^3 / 2. */
export function rsqrt(x: Tensor): Tensor {
  return reciprocal(sqrt(x));
}

/** x * sigmoid(x) (ONNX has SiLU only from opset 24); d/dx = s * (1 + x * (1 - s)). */
export function silu(x: Tensor): Tensor {
  const graph = x.graph;
  const [s, y] = graph.noGrad(() => {
    const s0 = sigmoid(x);
    return [s0, mul(x, s0)];
  });
  return graph.attach(y, [x], ([g]) => [mul(g!, mul(s, add(1, mul(x, sub(1, s)))))]);
}

/** Clamps to [lo, hi]; the gradient passes where lo <= x <= hi (as torch.clamp). */
export function clip(x: Tensor, lo: Num, hi: Num): Tensor {
  const tlo = lift(lo, x);
  const thi = lift(hi, x);
  return x.graph.apply1('Clip', [x, tlo, thi], {}, { dtype: x.dtype, shape: x.shape }, ([g]) => [
    where(and(greaterOrEqual(x, tlo), lessOrEqual(x, thi)), g!, 0),
    null,
    null,
  ]);
}

/** Type conversion; between float types the gradient is cast back. */
export function cast(x: Tensor, dtype: DataType): Tensor {
  if (x.dtype === dtype) return x;
  const float = (t: DataType) => t === 'float32' || t === 'float64';
  const rule = float(x.dtype) && float(dtype) ? ([g]: (Tensor | null)[]) => [cast(g!, x.dtype)] : undefined;
  return x.graph.apply1('Cast', [x], { to: { kind: 'int', v: { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 }[dtype] } }, { dtype, shape: x.shape }, rule);
}

/** Zeros of x's shape and dtype (materialised). */
export function zerosLike(x: Tensor): Tensor {
  const g = x.graph;
  return g.apply1('Expand', [g.scalar(0, x.dtype), shapeOf(x)], {}, { dtype: x.dtype, shape: x.shape });
}
