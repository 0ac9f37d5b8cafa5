// Pre-normalisation of an extracted LaTeX answer before structural parsing and the CAS. Each rule fixes a
// notation the CAS (compute-engine 0.27) mis-reads or that math-verify treats as equivalent; see docs/rewards.md.
import { matchRawBrace } from './latexScan.ts';

/** Replace `\cmd{...}` groups (balanced) by f(inner). */
export function replaceCommandGroups(text: string, command: string, f: (inner: string) => string): string {
  let out = '';
  let i = 0;
  for (;;) {
    const at = text.indexOf(command, i);
    if (at < 0) break;
    let open = at + command.length;
    if (/[A-Za-z]/.test(text[open] ?? '')) {
      out += text.slice(i, open);
      i = open;
      continue;
    }
    while (text[open] === ' ') open++;
    if (text[open] !== '{') {
      out += text.slice(i, open);
      i = open;
      continue;
    }
    const close = matchRawBrace(text, open);
    if (close < 0) break;
    out += text.slice(i, at) + f(text.slice(open + 1, close));
    i = close + 1;
  }
  return out + text.slice(i);
}

/** `\frac12` -> `\frac{1}{2}`, `\frac1{x}` -> `\frac{1}{x}`, `\sqrt3` -> `\sqrt{3}`: one-token arguments braced. */
function braceShortArguments(text: string): string {
  const token = String.raw`(\d|[A-Za-z]|\\[A-Za-z]+|\{)`;
  let s = text;
  // \frac with two short arguments, or one short one followed by a group.
  for (let pass = 0; pass < 2; pass++) {
    s = s.replace(new RegExp(String.raw`\\frac\s*(\d|[A-Za-z])\s*` + token, 'g'), (_m, a: string, b: string) =>
      b === '{' ? `\\frac{${a}}{` : `\\frac{${a}}{${b}}`,
    );
    s = s.replace(/\\frac\s*(\{[^{}]*\})\s*(\d|[A-Za-z])/g, (_m, a: string, b: string) => `\\frac${a}{${b}}`);
  }
  return s.replace(/\\sqrt\s*(\d+|[A-Za-z])/g, (_m, a: string) => `\\sqrt{${a}}`);
}

const UNICODE: Array<[RegExp, string]> = [
  [/≤/g, '\\le '],
  [/≥/g, '\\ge '],
  [/≠/g, '\\ne '],
  [/∞/g, '\\infty '],
  [/π/g, '\\pi '],
  [/∪/g, '\\cup '],
  [/±/g, '\\pm '],
  [/√/g, '\\sqrt'],
  [/−/g, '-'],
  [/×/g, '\\times '],
  [/·/g, '\\cdot '],
];

export function normalizeLatex(input: string): string {
  let s = input.trim();
  for (const [re, to] of UNICODE) s = s.replace(re, to);
  // Display wrappers that carry no value.
  s = s.replace(/\\(displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])/g, ' ');
  s = s.replace(/\\(?:boxed|fbox)\s*\{/g, '{');
  // A currency sign is not part of the value ("\$16,\!386.20").
  s = s.replace(/\\\$/g, '');
  // A multiple-choice letter in parentheses or styled text is the letter: "(C)", "\text{(A)}", "\textbf{(D)}".
  s = s.replace(/^\{?\s*(?:\\text(?:bf|rm)?\s*\{\s*)?\(([A-E])\)\s*\}?\s*\}?$/, '$1');
  // Thousands separators written with a negative thin space ("11,\! 111") before \! is dropped as spacing.
  s = s.replace(/(\d),\\!\s*(?=\d{3}(?!\d))/g, '$1');
  // Sizing and spacing commands: \left( -> (, \left. -> nothing.
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![A-Za-z])\s*\.?/g, '');
  s = s.replace(/\\[,;:! ]|\\q?quad(?![A-Za-z])|~/g, ' ');
  // Fraction variants the CAS does not know.
  s = s.replace(/\\[dt]frac(?![A-Za-z])/g, '\\frac');
  s = s.replace(/\\cfrac(?![A-Za-z])/g, '\\frac');
  s = braceShortArguments(s);
  // Degrees carry no value of their own in answers (90^\circ == 90); the CAS would turn them into radians.
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°|\\degree(?![A-Za-z])/g, '');
  // Percent: one spelling the CAS reads as /100.
  s = s.replace(/(\d)\s*(?:\\?%|(?:percent|pct)\b)/g, '$1\\%');
  s = s.replace(/\\(?:lt)(?![A-Za-z])/g, '<').replace(/\\(?:gt)(?![A-Za-z])/g, '>');
  s = s.replace(/\\(?:leqslant|leq|le)(?![A-Za-z])/g, '\\le ').replace(/\\(?:geqslant|geq|ge)(?![A-Za-z])/g, '\\ge ');
  s = s.replace(/\\(?:neq|ne)(?![A-Za-z])/g, '\\ne ');
  // "1 and 2", "1 \text{ or } 2": alternatives are a list.
  s = replaceCommandGroups(s, '\\text', (inner) => (/^\s*(and|or)\s*$/i.test(inner) ? ',' : `\\text{${inner}}`));
  s = s.replace(/\s+(?:and|or)\s+/g, ', ');
  s = s.replace(/\s+/g, ' ').trim();
  // Sentence punctuation glued to the answer.
  s = s.replace(/^[\s$]+|[\s$]+$/g, '');
  s = s.replace(/(?:\s*[.,;:])+$/, '').trim();
  return s;
}

/** Brace subscripted symbols so the CAS does not swallow the next factor: F_k F_{n} -> {F_{k}}{F_{n}}. */
export function groupSubscripts(latex: string): string {
  let out = '';
  for (let i = 0; i < latex.length; i++) {
    const c = latex[i];
    const prevIsLetter = /[A-Za-z\\]/.test(latex[i - 1] ?? '');
    if (/[A-Za-z]/.test(c) && !prevIsLetter && latex[i + 1] === '_') {
      const sub = latex[i + 2];
      if (sub === '{') {
        const close = matchRawBrace(latex, i + 2);
        if (close > 0) {
          out += `{${c}_{${latex.slice(i + 3, close)}}}`;
          i = close;
          continue;
        }
      } else if (sub !== undefined && /[A-Za-z0-9]/.test(sub)) {
        out += `{${c}_{${sub}}}`;
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** A comparison key for answers the CAS cannot read (text, times, invalid LaTeX): case and spacing ignored. */
export function textKey(s: string): string {
  return s
    .replace(/\\(?:text|textnormal|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}/g, '$1')
    .replace(/[\s{}]/g, '')
    .toLowerCase();
}
