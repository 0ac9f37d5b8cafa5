// The tiny tokenizer: byte-exact round trips on arbitrary unicode, parity with the Rust tokenizer on
// recorded strings, single ids for the special/added tokens, and a reproducible generator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadChatModel } from '../../chat/index.ts';
import { buildTinyTokenizer, TINY_ADDED_TOKENS, TINY_VOCAB_SIZE } from '../../chat/tinyTokenizer/build.ts';
// A seeded PRNG, so the property test is reproducible.
import { prng as rng } from '../support/prng.ts';

const tok = loadChatModel('recipes/models/tiny');

const RANGES: Array<[number, number]> = [
  [0x20, 0x7e], // ASCII
  [0x09, 0x0d], // tab, newlines, carriage return
  [0xa0, 0x24f], // Latin-1 and extended
  [0x300, 0x36f], // combining marks
  [0x590, 0x6ff], // Hebrew, Arabic
  [0x4e00, 0x4fff], // CJK
  [0x2000, 0x206f], // general punctuation incl. zero-width joiners and U+2028
  [0x1f300, 0x1faff], // emoji (astral)
  [0x1d400, 0x1d7ff], // math alphanumerics (astral)
  [0x20000, 0x2a6df], // CJK extension B (astral)
];
const SPECIAL_LOOKING = ['<|im_start|>', '<|im_end|>', '<tool_call>', '</tool_response>', '<think>', '<|im_', 'im_end|>', '<tool_call', '</'];

function randomString(next: () => number): string {
  let s = '';
  const parts = Math.floor(next() * 14);
  for (let p = 0; p < parts; p++) {
    if (next() < 0.1) {
      s += SPECIAL_LOOKING[Math.floor(next() * SPECIAL_LOOKING.length)];
      continue;
    }
    const [lo, hi] = RANGES[Math.floor(next() * RANGES.length)];
    const n = 1 + Math.floor(next() * 6);
    for (let i = 0; i < n; i++) s += String.fromCodePoint(lo + Math.floor(next() * (hi - lo + 1)));
  }
  return s;
}

test('decode(encode(s)) === s for 2000 seeded random unicode strings', () => {
  const next = rng(12345);
  for (let i = 0; i < 2000; i++) {
    const s = randomString(next);
    const ids = tok.encode(s);
    assert.equal(tok.decode(ids), s, `string ${i}: ${JSON.stringify(s)}`);
    assert.ok(ids.every((id) => id >= 0 && id < TINY_VOCAB_SIZE));
  }
});

test('JS tokenizer ids equal the Rust tokenizer ids on the recorded random strings', () => {
  const { strings } = JSON.parse(readFileSync('test/fixtures/chat/goldens.json', 'utf8')) as { strings: Array<{ text: string; ids: number[] }> };
  assert.ok(strings.length >= 300);
  for (const { text, ids } of strings) {
    assert.deepEqual(tok.encode(text), ids, JSON.stringify(text));
    assert.equal(tok.decode(ids), text);
  }
});

test('special and added tokens encode to single ids, inside text too', () => {
  const seen = new Set<number>();
  for (const { content } of TINY_ADDED_TOKENS) {
    const ids = tok.encode(content);
    assert.equal(ids.length, 1, content);
    assert.ok(ids[0] >= TINY_VOCAB_SIZE - TINY_ADDED_TOKENS.length && ids[0] < TINY_VOCAB_SIZE);
    seen.add(ids[0]);
    const inText = tok.encode(`x${content}y`);
    assert.equal(inText.length, 3);
    assert.equal(inText[1], ids[0]);
  }
  assert.equal(seen.size, TINY_ADDED_TOKENS.length);
  assert.equal(tok.endOfTurnId, tok.tokenId('<|im_end|>'));
  assert.equal(tok.vocabSize, TINY_VOCAB_SIZE);
});

test('the generator reproduces the committed tokenizer files byte for byte', () => {
  const { tokenizerJson, tokenizerConfigJson } = buildTinyTokenizer();
  assert.equal(tokenizerJson, readFileSync('recipes/models/tiny/tokenizer.json', 'utf8'));
  assert.equal(tokenizerConfigJson, readFileSync('recipes/models/tiny/tokenizer_config.json', 'utf8'));
  const parsed = JSON.parse(tokenizerJson);
  const ids = new Set<number>([...Object.values(parsed.model.vocab as Record<string, number>), ...parsed.added_tokens.map((t: { id: number }) => t.id)]);
  assert.equal(ids.size, TINY_VOCAB_SIZE);
  assert.equal(Math.max(...ids), TINY_VOCAB_SIZE - 1);
});
