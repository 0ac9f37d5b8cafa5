// A small, deterministic byte-level BPE trainer: enough to build the tiny demo model's tokenizer from a
// corpus we wrote ourselves. Ties between equally frequent pairs are broken by the pair's strings so the
// output never depends on Map iteration order or the JS engine.
import { bytesToByteLevel } from '../byteLevel.ts';

export interface BpeResult {
  /** Learned merges in rank order, each a pair of vocabulary strings. */
  merges: Array<[string, string]>;
}

/**
 * Learns merges until `numNewTokens` distinct merged strings exist, over the pre-tokens of `corpus`. `splitPattern` is the pre-tokenizer regex (JS
 * syntax, applied with the `u` and `g` flags), the same one written into tokenizer.json.
 */
export function trainByteLevelBpe(corpus: string, splitPattern: string, numNewTokens: number): BpeResult {
  const splitter = new RegExp(splitPattern, 'gu');
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const match of corpus.matchAll(splitter)) {
    const word = bytesToByteLevel(encoder.encode(match[0]));
    wordCounts.set(word, (wordCounts.get(word) ?? 0) + 1);
  }
  // Each distinct pre-token is a sequence of symbols; merging rewrites these sequences in place.
  const words = [...wordCounts.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([word, count]) => ({ symbols: [...word], count }));
  const merges: Array<[string, string]> = [];
  // Two different merges can produce the same string ('a'+'bc', 'ab'+'c'); the vocabulary counts it once.
  const newTokens = new Set<string>();
  for (let step = 0; newTokens.size < numNewTokens; step++) {
    const pairCounts = new Map<string, { pair: [string, string]; count: number }>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]}\u0000${symbols[i + 1]}`;
        const entry = pairCounts.get(key);
        if (entry) entry.count += count;
        else pairCounts.set(key, { pair: [symbols[i], symbols[i + 1]], count });
      }
    }
    let best: { key: string; pair: [string, string]; count: number } | null = null;
    for (const [key, entry] of pairCounts) {
      if (!best || entry.count > best.count || (entry.count === best.count && key < best.key)) {
        best = { key, ...entry };
      }
    }
    if (!best) throw new Error(`BPE corpus too small: no pair left after ${step} merges (wanted ${numNewTokens} new tokens)`);
    merges.push(best.pair);
    const [left, right] = best.pair;
    const merged = left + right;
    newTokens.add(merged);
    for (const word of words) {
      const out: string[] = [];
      const s = word.symbols;
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === left && s[i + 1] === right) {
          out.push(merged);
          i++;
        } else out.push(s[i]);
      }
      word.symbols = out;
    }
  }
  return { merges };
}
