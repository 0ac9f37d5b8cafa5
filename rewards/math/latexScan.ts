// Small, dependency-free scanners over LaTeX answer strings: brace matching, the \boxed{} finder and a
// top-level splitter that respects every kind of bracket. Shared by the strict matcher, the extractor and the
// structural parser so all three agree on what "inside a group" means.

/** Index of the '}' closing the '{' at `open`, counting raw braces (as the strict Open-AgentRL matcher does). */
export function matchRawBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

export interface BoxedSpan {
  /** Index of the backslash of \boxed. */
  start: number;
  /** Index one past the closing brace. */
  end: number;
  /** The text between the braces. */
  inner: string;
}

const BOX_COMMANDS = ['\\boxed', '\\fbox'];

/** Every complete \boxed{...} / \fbox{...} in the text, left to right (nested boxes are inside their parent). */
export function findBoxed(text: string): BoxedSpan[] {
  const spans: BoxedSpan[] = [];
  let i = 0;
  while (i < text.length) {
    let next = -1;
    let cmd = '';
    for (const c of BOX_COMMANDS) {
      const at = text.indexOf(c, i);
      if (at >= 0 && (next < 0 || at < next)) {
        next = at;
        cmd = c;
      }
    }
    if (next < 0) break;
    let open = next + cmd.length;
    while (text[open] === ' ') open++;
    if (text[open] !== '{' || /[A-Za-z]/.test(text[next + cmd.length] ?? '')) {
      i = next + cmd.length;
      continue;
    }
    const close = matchRawBrace(text, open);
    if (close < 0) break; // an unclosed box (truncated response) holds no answer
    spans.push({ start: next, end: close + 1, inner: text.slice(open + 1, close) });
    i = close + 1;
  }
  return spans;
}

const OPENERS = new Set(['(', '[', '{']);
const CLOSERS = new Set([')', ']', '}']);

/**
 * Calls `visit(i)` for each index at bracket depth 0. `\{` and `\}` count as brackets (set delimiters); any
 * opener may be closed by any closer, because half-open intervals like [0,9) are legal answers.
 */
export function forEachTopLevel(text: string, visit: (i: number) => number | void): void {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && (text[i + 1] === '{' || text[i + 1] === '}')) {
      depth += text[i + 1] === '{' ? 1 : -1;
      i++;
      continue;
    }
    if (OPENERS.has(c)) {
      depth++;
      continue;
    }
    if (CLOSERS.has(c)) {
      depth = Math.max(0, depth - 1);
      continue;
    }
    if (depth === 0) {
      const skip = visit(i);
      if (typeof skip === 'number' && skip > 0) i += skip - 1;
    }
  }
}

function separatorAt(text: string, i: number, separators: readonly string[]): string | undefined {
  for (const sep of separators) {
    if (!text.startsWith(sep, i)) continue;
    // A command separator must not be the prefix of a longer command (\le vs \left, \in vs \infty).
    if (sep.startsWith('\\') && /[A-Za-z]/.test(sep[sep.length - 1]) && /[A-Za-z]/.test(text[i + sep.length] ?? '')) continue;
    return sep;
  }
  return undefined;
}

export interface TopLevelSplit {
  parts: string[];
  separators: string[];
}

/** Split at depth-0 occurrences of any separator (longest first), trimming the parts. */
export function splitTopLevel(text: string, separators: readonly string[]): TopLevelSplit {
  const ordered = [...separators].sort((a, b) => b.length - a.length);
  const parts: string[] = [];
  const found: string[] = [];
  let last = 0;
  forEachTopLevel(text, (i) => {
    const sep = separatorAt(text, i, ordered);
    if (sep === undefined) return;
    parts.push(text.slice(last, i).trim());
    found.push(sep);
    last = i + sep.length;
    return sep.length;
  });
  parts.push(text.slice(last).trim());
  return { parts, separators: found };
}

/**
 * When the whole string is one bracket group, returns its delimiters and inner text; `\{...\}` is reported with
 * open '\\{'. Returns undefined when the first group closes before the end (e.g. "(1,2) \cup (3,4)").
 */
export function outerGroup(text: string): { open: string; close: string; inner: string } | undefined {
  const s = text.trim();
  const setOpen = s.startsWith('\\{');
  if (!setOpen && !OPENERS.has(s[0])) return undefined;
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    let delta = 0;
    let width = 1;
    if (c === '\\' && (s[i + 1] === '{' || s[i + 1] === '}')) {
      delta = s[i + 1] === '{' ? 1 : -1;
      width = 2;
    } else if (OPENERS.has(c)) delta = 1;
    else if (CLOSERS.has(c)) delta = -1;
    if (delta !== 0) {
      depth += delta;
      if (depth === 0) {
        if (i + width !== s.length) return undefined;
        const open = setOpen ? '\\{' : s[0];
        const close = s.slice(i, i + width);
        return { open, close, inner: s.slice(open.length, i) };
      }
    }
    i += width - 1;
  }
  return undefined;
}
