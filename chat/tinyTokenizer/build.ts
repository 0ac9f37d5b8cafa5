// Writes the tiny demo model's tokenizer.json and tokenizer_config.json (recipes/models/tiny/), both in the
// Hugging Face formats, so that our TS loader and Python transformers read the same files. Deterministic:
// rerunning produces byte-identical files. Run: node --import tsx chat/tinyTokenizer/build.ts [outDir]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { byteToChar } from '../byteLevel.ts';
import { trainByteLevelBpe } from './bpeTrainer.ts';
import { tinyCorpus } from './corpus.ts';

/** Total ids; the tiny model's embedding has exactly this many rows. */
export const TINY_VOCAB_SIZE = 512;

/**
 * The token set of Qwen3's ChatML + Hermes format (same strings and same special/non-special split), so
 * any Qwen3 template convention works with the tiny model too.
 */
export const TINY_ADDED_TOKENS: ReadonlyArray<{ content: string; special: boolean }> = [
  { content: '<|endoftext|>', special: true },
  { content: '<|im_start|>', special: true },
  { content: '<|im_end|>', special: true },
  { content: '<tool_call>', special: false },
  { content: '</tool_call>', special: false },
  { content: '<tool_response>', special: false },
  { content: '</tool_response>', special: false },
  { content: '<think>', special: false },
  { content: '</think>', special: false },
];

/**
 * Pre-tokenizer split (our own): runs of up to three digits, words (letters with their combining marks) with
 * one optional leading space, punctuation runs with one optional leading space, newline-ended whitespace
 * runs, then other whitespace (leaving a single space to attach to the next word).
 * It is written in the subset where JS `u` regexes and Oniguruma agree; the golden tests compare the two.
 */
export const TINY_SPLIT_PATTERN =
  '\\p{N}{1,3}| ?[\\p{L}\\p{M}]+| ?[^\\s\\p{L}\\p{M}\\p{N}]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+';

/**
 * The tokenizer files for `corpus` with `vocabSize` ids in all (defaults: the tiny model's). Other small models
 * (the embedded demo's) train on their own traffic with the same split, byte level and added tokens.
 */
export function buildTinyTokenizer(corpus: string = tinyCorpus, vocabSize: number = TINY_VOCAB_SIZE): { tokenizerJson: string; tokenizerConfigJson: string } {
  const numNewTokens = vocabSize - 256 - TINY_ADDED_TOKENS.length;
  if (numNewTokens < 0) throw new Error(`buildTinyTokenizer: vocabSize ${vocabSize} is smaller than the 256 bytes and ${TINY_ADDED_TOKENS.length} added tokens`);
  const { merges } = trainByteLevelBpe(corpus, TINY_SPLIT_PATTERN, numNewTokens);
  const vocab: Record<string, number> = {};
  byteToChar.forEach((ch, b) => {
    vocab[ch] = b;
  });
  let nextId = 256;
  for (const [left, right] of merges) {
    const merged = left + right;
    if (!(merged in vocab)) vocab[merged] = nextId++;
  }
  if (nextId !== 256 + numNewTokens) throw new Error(`internal: expected ${256 + numNewTokens} ids, got ${nextId}`);
  const addedTokens = TINY_ADDED_TOKENS.map((t, i) => ({
    id: nextId + i,
    content: t.content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: t.special,
  }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    // No normalizer on purpose: byte-exact round trips (NFC would rewrite combining sequences).
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: TINY_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
        byteLevel,
      ],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const addedTokensDecoder: Record<string, object> = {};
  for (const t of addedTokens) {
    const { id, ...rest } = t;
    addedTokensDecoder[String(id)] = rest;
  }
  const config = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: addedTokensDecoder,
    bos_token: null,
    clean_up_tokenization_spaces: false,
    eos_token: '<|im_end|>',
    errors: 'replace',
    model_max_length: 32768,
    pad_token: '<|endoftext|>',
    split_special_tokens: false,
    tokenizer_class: 'PreTrainedTokenizerFast',
    unk_token: null,
  };
  return {
    tokenizerJson: JSON.stringify(tokenizer, null, 2) + '\n',
    tokenizerConfigJson: JSON.stringify(config, null, 2) + '\n',
  };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\u0000')) {
  const outDir = process.argv[2] ?? join('recipes', 'models', 'tiny');
  mkdirSync(outDir, { recursive: true });
  const { tokenizerJson, tokenizerConfigJson } = buildTinyTokenizer();
  writeFileSync(join(outDir, 'tokenizer.json'), tokenizerJson);
  writeFileSync(join(outDir, 'tokenizer_config.json'), tokenizerConfigJson);
  console.log(`wrote ${outDir}/tokenizer.json and tokenizer_config.json (${TINY_VOCAB_SIZE} ids)`);
}
