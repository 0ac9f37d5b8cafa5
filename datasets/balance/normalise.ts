// Text normalisation, content identities and the seeded rank. Everything here is a pure function of the row's
// content (never of file names, row positions or reader), so dedupe and sampling give the same answer whichever
// reader produced the rows and in whatever order the files were listed.
import { hash } from 'node:crypto';

/**
 * The dedupe form of a problem statement: Unicode NFKC, lower case, and ALL whitespace removed. Copies of one
 * problem across collections differ in line breaks, indentation, spaces inside LaTeX (`x + y` vs `x+y`) and
 * capitalisation; removing whitespace entirely catches all of these, and two different problems that differ only
 * in whitespace do not occur in practice.
 */
export function normaliseProblem(text: string): string {
  // NFKC leaves printable ASCII and ASCII whitespace unchanged; skipping it there saves most of its cost.
  const nfkc = /^[\x20-\x7e\t\n\r\f\v]*$/u.test(text) ? text : text.normalize('NFKC');
  return nfkc.toLowerCase().replace(/\s+/gu, '');
}

/** 128-bit hex digest of the normalised problem: the dedupe key. */
export function contentKey(problem: string): string {
  // crypto.hash (one shot) costs less than createHash for short inputs (docs/BENCHMARKS.md); same digest.
  return hash('sha256', normaliseProblem(problem), 'hex').slice(0, 32);
}

let scratch = Buffer.allocUnsafe(1 << 16);

/**
 * contentKey of a problem given as UTF-8 bytes that are all ASCII (the caller checks with buffer.isAscii): NFKC
 * leaves ASCII unchanged, lower case is A-Z only and the whitespace `\s` matches in ASCII is tab, LF, VT, FF, CR
 * and space, so normalising the bytes directly gives the same bytes as normaliseProblem on the decoded string.
 */
export function contentKeyAscii(bytes: Uint8Array, start: number, end: number): string {
  if (end - start > scratch.length) scratch = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let k = start; k < end; k++) {
    const b = bytes[k];
    if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) continue;
    scratch[n++] = b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
  }
  return hash('sha256', scratch.subarray(0, n), 'hex').slice(0, 32);
}

/** A row's identity: its source, its problem and its ground truth (two answers to one problem are two rows). */
export function rowUid(source: string, key: string, groundTruth: string): string {
  return `${source}-${hash('sha256', `${key}\u0000${groundTruth}`, 'hex').slice(0, 16)}`;
}

/** The seeded sampling rank: a keyed hash of (seed, source, uid); the smallest `take` ranks are selected. */
export function sampleRank(seed: number, source: string, uid: string): string {
  return hash('sha256', `${seed}\u0000${source}\u0000${uid}`, 'hex');
}

/**
 * Parses a Python literal list of strings such as `['Math', "Greedy", 'It\'s']` (TACO stores tags with
 * repr(), not JSON). Returns null when the text is not such a list; `None`/empty text is an empty list.
 */
export function parsePythonStringList(text: string): string[] | null {
  const s = text.trim();
  if (s === '' || s === 'None' || s === '[]') return [];
  if (s[0] !== '[' || s[s.length - 1] !== ']') return null;
  const out: string[] = [];
  let i = 1;
  const end = s.length - 1;
  const skipWs = (): void => {
    while (i < end && /\s/u.test(s[i])) i++;
  };
  skipWs();
  while (i < end) {
    let raw = false;
    if (s[i] === 'r' || s[i] === 'R') {
      raw = true;
      i++;
    }
    const quote = s[i];
    if (quote !== "'" && quote !== '"') return null;
    i++;
    let value = '';
    for (;;) {
      if (i >= end) return null;
      const c = s[i];
      if (c === quote) {
        i++;
        break;
      }
      if (c === '\\' && !raw) {
        const n = s[i + 1];
        const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
        if (n === 'x' || n === 'u') {
          const len = n === 'x' ? 2 : 4;
          const hex = s.slice(i + 2, i + 2 + len);
          if (!/^[0-9a-fA-F]+$/u.test(hex) || hex.length !== len) return null;
          value += String.fromCharCode(parseInt(hex, 16));
          i += 2 + len;
          continue;
        }
        value += n in escapes ? escapes[n] : `\\${n}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    out.push(value);
    skipWs();
    if (i < end) {
      if (s[i] !== ',') return null;
      i++;
      skipWs();
    }
  }
  return out;
}
