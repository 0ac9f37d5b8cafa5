// Answer extraction from a free-form response, in the spirit of math-verify. Priorities, highest first:
//   1. a final-answer phrase ("final answer ...") and the answer that follows it,
//   2. the last \boxed{} (adjacent boxes joined: "\boxed{1} and \boxed{2}" -> "1, 2"),
//   3. an "answer" phrase ("Answer: ...", "the answer is ..."),
//   4. the right-most LaTeX span ($..$, \(..\), \[..\], $$..$$, equation environments) or plain number.
// Targets restrict which kinds of candidate count: 'latex' (delimited LaTeX) and/or 'expr' (plain numbers).
import { findBoxed } from './latexScan.ts';
import type { BoxedSpan } from './latexScan.ts';

export type ExtractionTarget = 'latex' | 'expr';
export type ExtractionPriority = 'final-answer' | 'boxed' | 'answer-phrase' | 'last-candidate';

export interface ExtractedAnswer {
  /** The answer text as found (still raw LaTeX). */
  text: string;
  kind: 'boxed' | 'latex' | 'number';
  priority: ExtractionPriority;
  /** Offset of the answer in the response (for audit). */
  start: number;
}

export interface ExtractOptions {
  targets?: readonly ExtractionTarget[];
}

interface Candidate {
  start: number;
  end: number;
  text: string;
  kind: ExtractedAnswer['kind'];
}

const DISPLAY_ENVS = 'equation|align|gather|multline|eqnarray|displaymath|math';

/** Delimited LaTeX spans; inner text only. */
function latexSpans(text: string): Candidate[] {
  const spans: Candidate[] = [];
  const patterns: RegExp[] = [
    /\$\$([\s\S]+?)\$\$/g,
    /\\\[([\s\S]+?)\\\]/g,
    /\\\(([\s\S]+?)\\\)/g,
    new RegExp(String.raw`\\begin\{(?:${DISPLAY_ENVS})\*?\}([\s\S]+?)\\end\{(?:${DISPLAY_ENVS})\*?\}`, 'g'),
    /(?<![\\$])\$(?!\$)((?:\\\$|[^$])+?)(?<!\\)\$/g,
  ];
  const taken: Array<[number, number]> = [];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const start = m.index;
      const end = start + m[0].length;
      if (taken.some(([a, b]) => start < b && end > a)) continue; // $..$ inside an already found $$..$$
      // Inline math ($..$, \(..\)) never spans lines; display math may.
      const inline = m[0].startsWith('\\(') || (m[0].startsWith('$') && !m[0].startsWith('$$'));
      if (inline && m[1].includes('\n')) continue;
      taken.push([start, end]);
      const inner = m[1].trim();
      // A percent sign or word right after the math ("$28$ %", "$28$ percent") belongs to the answer.
      const percent = /^\s*(?:\\?%|percent\b|pct\b)/.exec(text.slice(end));
      if (inner) spans.push({ start, end: end + (percent?.[0].length ?? 0), text: percent ? `${inner}\\%` : inner, kind: 'latex' });
    }
  }
  return spans;
}

// A number that is not glued to letters ("AZYUK2A" holds none) nor part of a LaTeX group or power ("\frac{1}{2}",
// "x^2"), with optional thousands separators (commas or spaces between groups of three after a non-zero lead),
// a decimal point or decimal comma (a comma that is not a thousands separator: "2,74", "0,111", "1000,99"), a
// leading-dot decimal (".4"), a simple fraction and a percent word.
const INTEGER_PART = String.raw`(?:[1-9]\d{0,2}(?:,\d{3})+(?![\d,])|[1-9]\d{0,2}(?: \d{3})+(?![\d])|\d+(?:,\d+(?![\d,]))?)`;
const NUMBER_RE = new RegExp(
  String.raw`(?<![A-Za-z0-9_.,\\{^])-?(?:${INTEGER_PART}(?:\.\d+)?|\.\d+)(?:\/\d+)?(?![A-Za-z0-9_}])(?:\s*(?:\\?%|percent\b|pct\b))?`,
  'g',
);
const GROUPED = /^-?[1-9]\d{0,2}(?:[, ]\d{3})+(?!\d)/;

/** One spelling per number: thousands separators dropped, a decimal comma made a point, a leading zero added. */
export function plainNumberText(text: string): string {
  let s = GROUPED.test(text) ? text.replace(/^(-?[\d, ]+)/, (m) => m.replace(/[, ]/g, '')) : text.replace(/^(-?\d+),(\d+)/, '$1.$2');
  s = s.replace(/^(-?)\./, '$10.');
  return s;
}

function numberCandidates(text: string, exclude: readonly Candidate[]): Candidate[] {
  const out: Candidate[] = [];
  for (const m of text.matchAll(NUMBER_RE)) {
    const start = m.index;
    const end = start + m[0].length;
    if (exclude.some((c) => start >= c.start && end <= c.end)) continue;
    out.push({ start, end, text: plainNumberText(m[0]), kind: 'number' });
  }
  return out;
}

/** The whole text normalised when it is exactly one plain number (a bare ground truth such as "1,22"), else null. */
export function wholePlainNumber(text: string): string | null {
  const trimmed = text.trim();
  const m = new RegExp(NUMBER_RE.source).exec(trimmed);
  return m && m.index === 0 && m[0].length === trimmed.length ? plainNumberText(trimmed) : null;
}

// A multiple-choice letter written in parentheses, "(C)", outside math.
const CHOICE_RE = /(?<![A-Za-z0-9\\])\(([A-E])\)(?![A-Za-z0-9])/g;

function choiceCandidates(text: string, exclude: readonly Candidate[]): Candidate[] {
  const out: Candidate[] = [];
  for (const m of text.matchAll(CHOICE_RE)) {
    const start = m.index;
    const end = start + m[0].length;
    if (!exclude.some((c) => start >= c.start && end <= c.end)) out.push({ start, end, text: m[1], kind: 'number' });
  }
  return out;
}

function allCandidates(text: string, boxes: readonly BoxedSpan[], targets: readonly ExtractionTarget[]): Candidate[] {
  const latex = targets.includes('latex') ? latexSpans(text) : [];
  const boxed: Candidate[] = boxes.map((b) => ({ start: b.start, end: b.end, text: b.inner, kind: 'boxed' }));
  const numbers = targets.includes('expr') ? numberCandidates(text, [...latex, ...boxed]) : [];
  const choices = choiceCandidates(text, [...latex, ...boxed]);
  return [...latex, ...numbers, ...choices].sort((a, b) => a.start - b.start);
}

// Between two boxes, only list glue ("and", "or", commas, math delimiters) joins them into one answer.
const BOX_GLUE = /^(?:[\s$,;.]|\\[()[\]]|\\q?quad|\band\b|\bor\b|\\text\{\s*(?:and|or)?\s*\})*$/i;

function joinedLastBoxes(text: string, boxes: readonly BoxedSpan[]): { text: string; start: number } | undefined {
  if (boxes.length === 0) return undefined;
  // Only top-level boxes count: a box nested in another one is part of its parent.
  const top = boxes.filter((b) => !boxes.some((o) => o !== b && o.start < b.start && o.end >= b.end));
  let i = top.length - 1;
  const parts = [top[i].inner.trim()];
  while (i > 0 && BOX_GLUE.test(text.slice(top[i - 1].end, top[i].start))) {
    i--;
    parts.unshift(top[i].inner.trim());
  }
  return { text: parts.join(', '), start: top[i].start };
}

// Connector words right before an answer: "... is 34", "x = 5", "Answer: 7".
const CONNECTOR_BEFORE = /(?:\bis|\bare|\bbe|=|:|\bequals)\s*$/i;

/** After an anchor phrase: a box in the segment, else the last candidate right after a connector, else the first. */
function answerAfter(text: string, from: number, candidates: readonly Candidate[], boxes: readonly BoxedSpan[]): Candidate | undefined {
  const boxesAfter = boxes.filter((b) => b.start >= from);
  if (boxesAfter.length > 0) {
    const joined = joinedLastBoxes(text, boxesAfter);
    if (joined) return { start: joined.start, end: text.length, text: joined.text, kind: 'boxed' };
  }
  const after = candidates.filter((c) => c.start >= from);
  const connected = after.filter((c) => CONNECTOR_BEFORE.test(text.slice(from, c.start)));
  return connected.at(-1) ?? after[0];
}

function lastMatchEnd(text: string, re: RegExp): number {
  let end = -1;
  for (const m of text.matchAll(re)) end = m.index + m[0].length;
  return end;
}

/** The answer of a response, or null when nothing extractable is found. */
export function extractAnswer(text: string, options: ExtractOptions = {}): ExtractedAnswer | null {
  const targets = options.targets ?? ['latex', 'expr'];
  const boxes = findBoxed(text);
  const candidates = allCandidates(text, boxes, targets);
  const pick = (c: Candidate | undefined, priority: ExtractionPriority): ExtractedAnswer | null =>
    c ? { text: c.text, kind: c.kind, priority, start: c.start } : null;

  const finalAt = lastMatchEnd(text, /final\s+answer/gi);
  if (finalAt >= 0) {
    const found = pick(answerAfter(text, finalAt, candidates, boxes), 'final-answer');
    if (found) return found;
  }
  const joined = joinedLastBoxes(text, boxes);
  if (joined) return { text: joined.text, kind: 'boxed', priority: 'boxed', start: joined.start };
  const answerAt = lastMatchEnd(text, /\banswer\b/gi);
  if (answerAt >= 0) {
    const found = pick(answerAfter(text, answerAt, candidates, []), 'answer-phrase');
    if (found) return found;
  }
  return pick(candidates.at(-1), 'last-candidate');
}
