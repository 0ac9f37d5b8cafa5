// The CAS cascade for two leaf expressions, on @cortex-js/compute-engine 0.27:
//   valid parse -> (a float on either side: compare rounded values) -> isSame -> simplify(a - b) exact ->
//   numeric check at seeded random points with a RELATIVE tolerance.
// Traps handled (platform.md): two invalid parses compare equal in the raw API (we never call them equal unless
// their text matches); isEqual's absolute 1e-10 tolerance (we never use it); engine state leaking between checks
// (each check runs in its own scope).
import { ComputeEngine } from '@cortex-js/compute-engine';
import type { BoxedExpression } from '@cortex-js/compute-engine';
import { groupSubscripts, textKey } from './normalize.ts';

export class CheckTimeout extends Error {
  constructor(ms: number) {
    super(`math check exceeded its ${ms} ms time-out`);
    this.name = 'CheckTimeout';
  }
}

/** Per-check state: the engine, the deadline and a seeded generator so verdicts are reproducible. */
export class CasContext {
  readonly ce: ComputeEngine;
  private readonly deadline: number;
  private readonly timeoutMs: number;
  private seed: number;
  private readonly parsed = new Map<string, BoxedExpression>();

  constructor(ce: ComputeEngine, timeoutMs: number, seed = 0x5eed) {
    this.ce = ce;
    this.timeoutMs = timeoutMs;
    this.deadline = Date.now() + timeoutMs;
    this.seed = seed >>> 0;
  }

  /** Throws CheckTimeout once the check's time is spent; called between every CAS step. */
  tick(): void {
    if (Date.now() > this.deadline) throw new CheckTimeout(this.timeoutMs);
  }

  /** mulberry32: tiny, fast, deterministic. */
  random(): number {
    this.seed = (this.seed + 0x6d2b79f5) >>> 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  parse(latex: string): BoxedExpression {
    const key = latex;
    let e = this.parsed.get(key);
    if (!e) {
      this.tick();
      e = this.ce.parse(groupSubscripts(latex));
      this.parsed.set(key, e);
    }
    return e;
  }
}

export const FLOAT_DIGITS = 6;
const REL_TOL = 1e-9;
const NUMERIC_POINTS = 6;

const hasFloatLiteral = (latex: string): boolean => /(?:^|[^\d])\d*\.\d/.test(latex);

/** A finite real value of a closed expression, or undefined. */
export function realValue(ctx: CasContext, e: BoxedExpression): number | undefined {
  ctx.tick();
  const n = e.N();
  ctx.tick();
  // `re` of a bignum result is chopped to 0 below ~1e-10; the bignum itself keeps 1/2^99 apart from 1/2^98.
  const big = n.bignumRe;
  const re = big !== undefined ? Number(big.toString()) : n.re;
  const im = n.im;
  if (!Number.isFinite(re) || (Number.isFinite(im) && Math.abs(im) > 1e-12 * Math.max(1, Math.abs(re)))) return undefined;
  return re;
}

// Below this, a value compared with an exact 0 counts as 0: bignum evaluation leaves residues like
// sin(pi) = 2.6e-21. Only used against an exact zero, so 2^-99 vs 2^-98 still differ.
const ZERO_RESIDUE = 1e-18;

export function relClose(a: number, b: number, tol = REL_TOL): boolean {
  if (a === b) return true;
  if (a === 0 || b === 0) return Math.abs(a - b) < ZERO_RESIDUE;
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

function roundTo(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function variablesOf(...es: BoxedExpression[]): string[] {
  const vars = new Set<string>();
  for (const e of es) for (const v of e.freeVariables) vars.add(v);
  return [...vars].sort();
}

/** Value of e with the given variable assignment, or undefined where it is not a finite real. */
export function valueAt(ctx: CasContext, e: BoxedExpression, point: Record<string, number>): number | undefined {
  ctx.tick();
  const subs: Record<string, BoxedExpression> = {};
  for (const [k, v] of Object.entries(point)) subs[k] = ctx.ce.number(v);
  return realValue(ctx, Object.keys(subs).length ? e.subs(subs) : e);
}

/** Seeded points in [0.5, 2.5): positive and away from 0, so roots, logs and divisions mostly stay defined. */
function randomPoints(ctx: CasContext, vars: readonly string[], count: number): Array<Record<string, number>> {
  const points: Array<Record<string, number>> = [];
  for (let i = 0; i < count; i++) {
    const p: Record<string, number> = {};
    for (const v of vars) p[v] = 0.5 + 2 * ctx.random();
    points.push(p);
  }
  return points;
}

/** Same value at enough random points, with no point where both are defined and differ. */
function numericallyEqual(ctx: CasContext, a: BoxedExpression, b: BoxedExpression): boolean {
  const vars = variablesOf(a, b);
  if (vars.length === 0) {
    const va = realValue(ctx, a);
    const vb = realValue(ctx, b);
    return va !== undefined && vb !== undefined && relClose(va, vb);
  }
  let agreed = 0;
  for (const point of randomPoints(ctx, vars, NUMERIC_POINTS)) {
    const va = valueAt(ctx, a, point);
    const vb = valueAt(ctx, b, point);
    if (va === undefined || vb === undefined) continue;
    if (!relClose(va, vb)) return false;
    agreed++;
  }
  return agreed >= Math.ceil(NUMERIC_POINTS / 2);
}

export function exprEqual(ctx: CasContext, goldLatex: string, predLatex: string): boolean {
  if (goldLatex === predLatex) return true;
  const a = ctx.parse(goldLatex);
  const b = ctx.parse(predLatex);
  if (!a.isValid || !b.isValid) return textKey(goldLatex) === textKey(predLatex);
  if (typeof a.symbol === 'string' && a.symbol.length > 1 && a.symbol === b.symbol) return true;

  if (hasFloatLiteral(goldLatex) || hasFloatLiteral(predLatex)) {
    const va = realValue(ctx, a);
    const vb = realValue(ctx, b);
    if (va !== undefined && vb !== undefined) return roundTo(va, FLOAT_DIGITS) === roundTo(vb, FLOAT_DIGITS);
    return numericallyEqualLoose(ctx, a, b);
  }

  ctx.tick();
  if (a.isSame(b)) return true;
  ctx.tick();
  const diff = a.sub(b).simplify();
  ctx.tick();
  if (diff.isNumberLiteral) {
    const nv = diff.numericValue;
    const exact = typeof nv === 'number' ? Number.isInteger(nv) : nv !== null && nv.isExact;
    if (exact) return diff.is(0);
  }
  return numericallyEqual(ctx, a, b);
}

/** With a float literal in a symbolic answer: compare at random points to FLOAT_DIGITS significant-ish digits. */
function numericallyEqualLoose(ctx: CasContext, a: BoxedExpression, b: BoxedExpression): boolean {
  const vars = variablesOf(a, b);
  if (vars.length === 0) return false;
  let agreed = 0;
  for (const point of randomPoints(ctx, vars, NUMERIC_POINTS)) {
    const va = valueAt(ctx, a, point);
    const vb = valueAt(ctx, b, point);
    if (va === undefined || vb === undefined) continue;
    if (!relClose(va, vb, 10 ** -FLOAT_DIGITS)) return false;
    agreed++;
  }
  return agreed >= Math.ceil(NUMERIC_POINTS / 2);
}

/** lhs1 - rhs1 and lhs2 - rhs2 are non-zero multiples of each other: the equations have the same solutions. */
export function equationsEquivalent(ctx: CasContext, g: [string, string], p: [string, string]): boolean {
  const a = ctx.parse(`(${g[0]})-(${g[1]})`);
  const b = ctx.parse(`(${p[0]})-(${p[1]})`);
  if (!a.isValid || !b.isValid) return textKey(g.join('=')) === textKey(p.join('='));
  ctx.tick();
  if (a.isSame(b) || a.sub(b).simplify().is(0) || a.add(b).simplify().is(0)) return true;
  const vars = variablesOf(a, b);
  if (vars.length === 0) return false;
  let ratio: number | undefined;
  let agreed = 0;
  for (const point of randomPoints(ctx, vars, NUMERIC_POINTS)) {
    const va = valueAt(ctx, a, point);
    const vb = valueAt(ctx, b, point);
    if (va === undefined || vb === undefined) continue;
    if (va === 0 || vb === 0) {
      if (va !== vb) return false;
      continue;
    }
    const r = va / vb;
    if (ratio === undefined) ratio = r;
    else if (!relClose(r, ratio, 1e-7)) return false;
    agreed++;
  }
  return agreed >= Math.ceil(NUMERIC_POINTS / 2);
}

/** A fresh engine; checks isolate their symbol declarations with pushScope/popScope. */
export function createEngine(): ComputeEngine {
  const ce = new ComputeEngine();
  // The default tolerance chops tiny exact values while canonicalising (1/2^99 parses as 0, so it "equals"
  // 1/2^98); comparisons here apply their own relative tolerance instead.
  ce.tolerance = 1e-300;
  return ce;
}

export function withScope<T>(ce: ComputeEngine, f: () => T): T {
  ce.pushScope();
  try {
    return f();
  } finally {
    ce.popScope();
  }
}
