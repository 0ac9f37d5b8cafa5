// Equivalence of two structured answers (gold first: some rules are deliberately asymmetric).
//   - equation vs value: "x = 5" is unwrapped to 5 when its left side is a symbol (or a tuple of symbols);
//     "2x + z = 1" is not. Two equations: same solutions (proportional lhs - rhs) or same symbol, equal values.
//   - inequality GOLD accepts an interval / union / inequality prediction (compared by membership of test
//     points); an inequality PREDICTION never matches an interval gold.
//   - sets are unordered (duplicates collapse), tuples ordered, intervals need matching brackets, a written
//     pair (a, b) may also be the open interval (a, b) or the set {a, b} written in that order; matrices element-wise.
import type { CasContext } from './cas.ts';
import { equationsEquivalent, exprEqual, relClose, valueAt } from './cas.ts';
import { isSymbolLike } from './structure.ts';
import type { InequalityOp, MathValue } from './structure.ts';
import { textKey } from './normalize.ts';

type Kind<K extends MathValue['kind']> = Extract<MathValue, { kind: K }>;

function dedupe(ctx: CasContext, items: readonly MathValue[]): MathValue[] {
  const out: MathValue[] = [];
  for (const item of items) if (!out.some((o) => valuesEqual(ctx, o, item))) out.push(item);
  return out;
}

/** Same elements, order ignored: a perfect matching by backtracking (answers are small). */
function unorderedEqual(ctx: CasContext, gold: readonly MathValue[], pred: readonly MathValue[]): boolean {
  const g = dedupe(ctx, gold);
  const p = dedupe(ctx, pred);
  if (g.length !== p.length) return false;
  const used = new Array<boolean>(p.length).fill(false);
  const match = (i: number): boolean => {
    if (i === g.length) return true;
    for (let j = 0; j < p.length; j++) {
      if (used[j] || !valuesEqual(ctx, g[i], p[j])) continue;
      used[j] = true;
      if (match(i + 1)) return true;
      used[j] = false;
    }
    return false;
  };
  return match(0);
}

function orderedEqual(ctx: CasContext, gold: readonly MathValue[], pred: readonly MathValue[]): boolean {
  return gold.length === pred.length && gold.every((g, i) => valuesEqual(ctx, g, pred[i]));
}

/** A union of finite sets is evaluated to one set ({1,3} U {2,4} = {1,2,3,4}); a one-part union is its part. */
function simplifyUnion(v: MathValue): MathValue {
  if (v.kind !== 'union') return v;
  if (v.parts.every((p) => p.kind === 'set')) return { kind: 'set', items: v.parts.flatMap((p) => (p as Kind<'set'>).items) };
  return v.parts.length === 1 ? v.parts[0] : v;
}

/** Intervals (or written pairs as open intervals) that make up a set-like value, or undefined. */
function asIntervals(v: MathValue): Kind<'interval'>[] | undefined {
  if (v.kind === 'interval') return [v];
  if (v.kind === 'tuple' && v.parens && v.items.length === 2) {
    return [{ kind: 'interval', lo: v.items[0], hi: v.items[1], loClosed: false, hiClosed: false }];
  }
  if (v.kind === 'union') {
    const parts = v.parts.map(asIntervals);
    return parts.every((p) => p !== undefined) ? parts.flat() : undefined;
  }
  return undefined;
}

function intervalEqual(ctx: CasContext, g: Kind<'interval'>, p: Kind<'interval'>): boolean {
  return g.loClosed === p.loClosed && g.hiClosed === p.hiClosed && valuesEqual(ctx, g.lo, p.lo) && valuesEqual(ctx, g.hi, p.hi);
}

function compareOp(a: number, op: InequalityOp, b: number): boolean {
  const tie = relClose(a, b, 1e-9) || Math.abs(a - b) < 1e-12;
  switch (op) {
    case '<':
      return !tie && a < b;
    case '<=':
      return tie || a < b;
    case '>':
      return !tie && a > b;
    case '>=':
      return tie || a > b;
  }
}

function endpointValue(ctx: CasContext, v: MathValue): number | undefined {
  if (v.kind !== 'expr') return undefined;
  if (/^\+?\\infty$/.test(v.latex)) return Infinity;
  if (/^-\\infty$/.test(v.latex)) return -Infinity;
  return valueAt(ctx, ctx.parse(v.latex), {});
}

type Membership = (x: number) => boolean;

/** Membership predicate of a one-variable inequality chain, plus the constants worth testing around. */
function inequalityMembership(ctx: CasContext, v: Kind<'inequality'>): { test: Membership; variable: string; constants: number[] } | undefined {
  const sides = v.sides.map((s) => ctx.parse(s));
  if (sides.some((s) => !s.isValid)) return undefined;
  const vars = new Set(sides.flatMap((s) => [...s.freeVariables]));
  if (vars.size !== 1) return undefined;
  const [variable] = vars;
  const constants: number[] = [];
  for (const s of sides) {
    if (s.freeVariables.length > 0) continue;
    const c = valueAt(ctx, s, {});
    if (c !== undefined) constants.push(c, -c);
  }
  const test = (x: number): boolean => {
    const values = sides.map((s) => valueAt(ctx, s, { [variable]: x }));
    return v.ops.every((op, i) => {
      const a = values[i];
      const b = values[i + 1];
      return a !== undefined && b !== undefined && compareOp(a, op, b);
    });
  };
  return { test, variable, constants };
}

function intervalMembership(ctx: CasContext, intervals: readonly Kind<'interval'>[]): { test: Membership; constants: number[] } | undefined {
  const bounds = intervals.map((iv) => ({ iv, lo: endpointValue(ctx, iv.lo), hi: endpointValue(ctx, iv.hi) }));
  if (bounds.some((b) => b.lo === undefined || b.hi === undefined)) return undefined;
  const test = (x: number): boolean =>
    bounds.some(({ iv, lo, hi }) => (iv.loClosed ? x >= lo! : x > lo!) && (iv.hiClosed ? x <= hi! : x < hi!));
  return { test, constants: bounds.flatMap((b) => [b.lo!, b.hi!]).filter(Number.isFinite) };
}

/** Same membership at every interesting point: each constant, just beside it, and a spread of others. */
function sameMembership(ctx: CasContext, a: Membership, b: Membership, constants: readonly number[]): boolean {
  const points = new Set<number>([0, 1e6, -1e6]);
  for (const c of constants) {
    const eps = 1e-6 * Math.max(1, Math.abs(c));
    points.add(c).add(c - eps).add(c + eps);
  }
  for (let i = 0; i < 12; i++) points.add((ctx.random() - 0.5) * 200);
  for (const x of points) {
    ctx.tick();
    if (a(x) !== b(x)) return false;
  }
  return true;
}

function inequalityGoldEqual(ctx: CasContext, g: Kind<'inequality'>, p: MathValue): boolean {
  const gold = inequalityMembership(ctx, g);
  if (!gold) return false;
  if (p.kind === 'inequality') {
    const pred = inequalityMembership(ctx, p);
    return pred !== undefined && pred.variable === gold.variable && sameMembership(ctx, gold.test, pred.test, [...gold.constants, ...pred.constants]);
  }
  const intervals = asIntervals(p);
  if (!intervals) return false;
  const pred = intervalMembership(ctx, intervals);
  return pred !== undefined && sameMembership(ctx, gold.test, pred.test, [...gold.constants, ...pred.constants]);
}

function equationEqual(ctx: CasContext, g: Kind<'equation'>, p: Kind<'equation'>): boolean {
  if (textKey(g.lhs) === textKey(p.lhs) && isSymbolLike(g.lhs) && valuesEqual(ctx, g.rhs, p.rhs)) return true;
  if (g.rhs.kind !== 'expr' || p.rhs.kind !== 'expr') return false;
  return equationsEquivalent(ctx, [g.lhs, g.rhsLatex], [p.lhs, p.rhsLatex]);
}

export function valuesEqual(ctx: CasContext, gold: MathValue, pred: MathValue): boolean {
  ctx.tick();
  const g = simplifyUnion(gold);
  const p = simplifyUnion(pred);

  if (g.kind === 'equation' && p.kind === 'equation') return equationEqual(ctx, g, p);
  if (g.kind === 'equation') return isSymbolLike(g.lhs) && valuesEqual(ctx, g.rhs, p);
  if (p.kind === 'equation') return isSymbolLike(p.lhs) && valuesEqual(ctx, g, p.rhs);
  if (g.kind === 'inequality') return inequalityGoldEqual(ctx, g, p);
  if (p.kind === 'inequality') return false;

  if (g.kind === 'set' && p.kind === 'set') return unorderedEqual(ctx, g.items, p.items);
  if (g.kind === 'set' && g.items.length === 1) return valuesEqual(ctx, g.items[0], p);
  if (p.kind === 'set' && p.items.length === 1) return valuesEqual(ctx, g, p.items[0]);
  if (g.kind === 'tuple' && p.kind === 'tuple') return orderedEqual(ctx, g.items, p.items);
  // A written tuple against a set: math-verify treats (1, 3) and {1, 3} as the same answer, but not (3, 1) and
  // {1, 3}: the tuple's order must be the order the set is written in.
  if ((g.kind === 'tuple' && p.kind === 'set') || (g.kind === 'set' && p.kind === 'tuple')) {
    return orderedEqual(ctx, g.items, p.items);
  }
  if (g.kind === 'interval' || g.kind === 'union' || p.kind === 'interval' || p.kind === 'union') {
    const gi = asIntervals(g);
    const pi = asIntervals(p);
    if (!gi || !pi || gi.length !== pi.length) return false;
    if (gi.length === 1) return intervalEqual(ctx, gi[0], pi[0]);
    return unorderedEqual(ctx, gi, pi);
  }
  if (g.kind === 'matrix' && p.kind === 'matrix') {
    return g.rows.length === p.rows.length && g.rows.every((row, i) => orderedEqual(ctx, row, p.rows[i]));
  }
  if (g.kind === 'text' || p.kind === 'text') {
    const key = (v: MathValue): string | undefined => (v.kind === 'text' ? textKey(v.text) : v.kind === 'expr' ? textKey(v.latex) : undefined);
    const kg = key(g);
    return kg !== undefined && kg !== '' && kg === key(p);
  }
  if (g.kind === 'expr' && p.kind === 'expr') return exprEqual(ctx, g.latex, p.latex);
  return false;
}
