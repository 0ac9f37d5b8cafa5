// Structural parse of a normalised answer into sets, tuples, intervals, relations, matrices and leaf expressions.
// The CAS only ever sees leaves: most checker disagreements come from this glue, so its rules are explicit here
// (and listed in docs/rewards.md).
import { outerGroup, splitTopLevel } from './latexScan.ts';
import { replaceCommandGroups } from './normalize.ts';

export type InequalityOp = '<' | '<=' | '>' | '>=';

export type MathValue =
  | { kind: 'expr'; latex: string }
  | { kind: 'text'; text: string }
  | { kind: 'set'; items: MathValue[] }
  /** `parens`: written (a, b), which may also mean the open interval (a, b). */
  | { kind: 'tuple'; items: MathValue[]; parens: boolean }
  | { kind: 'interval'; lo: MathValue; hi: MathValue; loClosed: boolean; hiClosed: boolean }
  | { kind: 'union'; parts: MathValue[] }
  | { kind: 'equation'; lhs: string; rhs: MathValue; rhsLatex: string }
  | { kind: 'inequality'; sides: string[]; ops: InequalityOp[] }
  | { kind: 'matrix'; rows: MathValue[][] };

const RELATION_SEPARATORS = ['=', '\\le', '\\ge', '<', '>', '\\ne', '\\approx'];
const INEQUALITY: Record<string, InequalityOp> = { '<': '<', '>': '>', '\\le': '<=', '\\ge': '>=' };
const TEXT_COMMANDS = ['\\text', '\\textnormal', '\\textbf', '\\textit', '\\mathrm', '\\mbox', '\\textrm'];

/** A plain or subscripted symbol, a Greek letter, or a tuple of those: "x", "F_n", "\alpha", "(p,q)". */
export function isSymbolLike(latex: string): boolean {
  const s = latex.trim();
  const symbol = /^(?:[A-Za-z]|\\[A-Za-z]+)(?:_(?:\{[^{}]*\}|[A-Za-z0-9]))?$/;
  if (symbol.test(s)) return !/^\\(?:pi|infty|emptyset)$/.test(s);
  const group = outerGroup(s);
  if (group && group.open === '(') {
    const { parts } = splitTopLevel(group.inner, [',']);
    return parts.length > 1 && parts.every((p) => symbol.test(p));
  }
  return false;
}

function stripTextGroups(s: string): { rest: string; texts: string[] } {
  const texts: string[] = [];
  let rest = s;
  for (const cmd of TEXT_COMMANDS) {
    rest = replaceCommandGroups(rest, cmd, (inner) => {
      texts.push(inner.trim());
      return ' ';
    });
  }
  return { rest: rest.replace(/\s+/g, ' ').trim(), texts };
}

// A row break is "\\\\", or a single backslash before white space (normalisation may leave one).
const ROW_BREAK = /\\\\|\\(?=\s)/;
const MATRIX_ENV = /\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?([\s\S]*?)\\end\{\1\}/g;

function numericRows(body: string): number[][] | undefined {
  const rows = body.split(ROW_BREAK).map((r) => r.trim()).filter((r) => r.length > 0).map((r) => r.split('&').map((c) => Number(c.trim())));
  return rows.every((r) => r.length === rows[0].length && r.every(Number.isFinite)) ? rows : undefined;
}

/** Literal numeric matrices joined by + or written side by side (a product) are evaluated to one matrix. */
function matrixArithmetic(s: string): MathValue | undefined {
  const matches = [...s.matchAll(MATRIX_ENV)];
  if (matches.length < 2) return undefined;
  const ops = matches.slice(1).map((m, i) => s.slice(matches[i].index + matches[i][0].length, m.index).trim());
  const outside = s.slice(0, matches[0].index).trim() + s.slice(matches[matches.length - 1].index + matches[matches.length - 1][0].length).trim();
  if (outside || !ops.every((op) => op === '+' || op === '' || op === '\\cdot' || op === '\\times')) return undefined;
  const mats = matches.map((m) => numericRows(m[2]));
  if (mats.some((m) => !m)) return undefined;
  let acc = mats[0]!;
  for (let i = 1; i < mats.length; i++) {
    const b = mats[i]!;
    if (ops[i - 1] === '+') {
      if (b.length !== acc.length || b[0].length !== acc[0].length) return undefined;
      acc = acc.map((row, r) => row.map((v, c) => v + b[r][c]));
    } else {
      if (acc[0].length !== b.length) return undefined;
      acc = acc.map((row) => b[0].map((_, c) => row.reduce((sum, v, k) => sum + v * b[k][c], 0)));
    }
  }
  return { kind: 'matrix', rows: acc.map((row) => row.map((v) => ({ kind: 'expr', latex: String(v) }) as MathValue)) };
}

function parseMatrix(s: string): MathValue | undefined {
  const sum = matrixArithmetic(s.trim());
  if (sum) return sum;
  const m = /^\\begin\{([pbvBV]?matrix|array)\}(?:\{[^{}]*\})?([\s\S]*)\\end\{\1\}$/.exec(s.trim());
  if (!m) return undefined;
  const rows = m[2]
    .split(ROW_BREAK)
    .map((r) => r.trim())
    .filter((r) => r.length > 0)
    .map((r) => r.split('&').map((cell) => parseAnswer(cell)));
  return { kind: 'matrix', rows };
}

function parseRelation(parts: string[], seps: string[]): MathValue {
  if (seps.every((op) => op === '=' || op === '\\approx')) {
    // A chain a = b = c states a = c: the first lhs and the last rhs (x = 5+5+1 = 11 -> x = 11).
    const rhsLatex = parts[parts.length - 1];
    return { kind: 'equation', lhs: parts[0], rhs: parseAnswer(rhsLatex), rhsLatex };
  }
  if (seps.every((op) => op in INEQUALITY)) {
    return { kind: 'inequality', sides: parts, ops: seps.map((op) => INEQUALITY[op]) };
  }
  return { kind: 'text', text: parts.map((p, i) => p + (seps[i] ?? '')).join('') };
}

function parseCommaList(parts: string[]): MathValue {
  const values = parts.map((p) => parseAnswer(p));
  const isAssignment = (v: MathValue): v is Extract<MathValue, { kind: 'equation' }> =>
    v.kind === 'equation' && isSymbolLike(v.lhs);
  // "p=5, q=2" names the components of one solution: the tuple (5, 2).
  if (values.every(isAssignment)) return { kind: 'tuple', items: values.map((v) => v.rhs), parens: false };
  // "x = 1, 2": the alternatives {1, 2}.
  const [first, ...rest] = values;
  if (isAssignment(first) && rest.every((v) => v.kind !== 'equation' && v.kind !== 'inequality')) {
    return { kind: 'set', items: [first.rhs, ...rest] };
  }
  return { kind: 'set', items: values };
}

function parseGroup(s: string): MathValue | undefined {
  const group = outerGroup(s);
  if (!group) return undefined;
  const { parts } = splitTopLevel(group.inner, [',']);
  if (group.open === '\\{') return { kind: 'set', items: group.inner.trim() ? parts.map((p) => parseAnswer(p)) : [] };
  if (group.open === '{') return parts.length > 1 ? { kind: 'set', items: parts.map((p) => parseAnswer(p)) } : parseAnswer(group.inner);
  if (parts.length === 1) return parseAnswer(group.inner);
  const items = parts.map((p) => parseAnswer(p));
  if (parts.length === 2 && !(group.open === '(' && group.close === ')')) {
    return { kind: 'interval', lo: items[0], hi: items[1], loClosed: group.open === '[', hiClosed: group.close === ']' };
  }
  return { kind: 'tuple', items, parens: group.open === '(' };
}

/** Parse a normalised answer (see normalizeLatex) into a MathValue. */
export function parseAnswer(input: string): MathValue {
  const s = input.trim().replace(/^\$+|\$+$/g, '').trim();
  if (/^(?:\\emptyset|\\varnothing|\\\{\s*\\\})$/.test(s)) return { kind: 'set', items: [] };
  const matrix = parseMatrix(s);
  if (matrix) return matrix;

  const semi = splitTopLevel(s, [';']);
  if (semi.parts.length > 1) return { kind: 'set', items: semi.parts.filter((p) => p).map((p) => parseAnswer(p)) };

  if (/^-?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/.test(s)) return { kind: 'expr', latex: s.replace(/,/g, '') };
  if (/^-?\.\d+$/.test(s)) return { kind: 'expr', latex: s.replace('.', '0.') };
  const comma = splitTopLevel(s, [',']);
  if (comma.parts.length > 1) return parseCommaList(comma.parts.filter((p) => p));

  const member = splitTopLevel(s, ['\\in']);
  if (member.parts.length === 2 && isSymbolLike(member.parts[0])) return parseAnswer(member.parts[1]);

  const union = splitTopLevel(s, ['\\cup']);
  if (union.parts.length > 1) return { kind: 'union', parts: union.parts.map((p) => parseAnswer(p)) };

  const relation = splitTopLevel(s, RELATION_SEPARATORS);
  if (relation.parts.length > 1) return parseRelation(relation.parts, relation.separators);

  const pm = /\\(pm|mp)(?![A-Za-z])/.exec(s);
  if (pm) {
    const plus = s.slice(0, pm.index) + '+' + s.slice(pm.index + pm[0].length);
    const minus = s.slice(0, pm.index) + '-' + s.slice(pm.index + pm[0].length);
    return { kind: 'set', items: [parseAnswer(plus), parseAnswer(minus)] };
  }

  const group = parseGroup(s);
  if (group) return group;

  const { rest, texts } = stripTextGroups(s);
  if (texts.length > 0) {
    // Only text: a word answer. Text beside a value: units ("125 miles") dropped.
    return rest ? parseAnswer(rest) : { kind: 'text', text: texts.join(' ') };
  }
  // Times, ratios and other notations the CAS cannot read are compared as text.
  if (s.includes(':') || s === '') return { kind: 'text', text: s };
  return { kind: 'expr', latex: s };
}

/** Compact rendering for audit records and test output. */
export function describeValue(v: MathValue): string {
  switch (v.kind) {
    case 'expr':
      return v.latex;
    case 'text':
      return `text(${v.text})`;
    case 'set':
      return `{${v.items.map(describeValue).join(', ')}}`;
    case 'tuple':
      return `(${v.items.map(describeValue).join(', ')})`;
    case 'interval':
      return `${v.loClosed ? '[' : '('}${describeValue(v.lo)}, ${describeValue(v.hi)}${v.hiClosed ? ']' : ')'}`;
    case 'union':
      return v.parts.map(describeValue).join(' U ');
    case 'equation':
      return `${v.lhs} = ${describeValue(v.rhs)}`;
    case 'inequality':
      return v.sides.map((side, i) => side + (v.ops[i] ? ` ${v.ops[i]} ` : '')).join('');
    case 'matrix':
      return `matrix[${v.rows.map((r) => r.map(describeValue).join(' & ')).join('; ')}]`;
  }
}
