// The byte <-> printable-character table used by byte-level BPE tokenizers (the GPT-2 scheme that
// Qwen's tokenizer.json also uses). Every byte maps to one visible character so that vocabulary entries are
// plain strings; we need the inverse to know how many UTF-8 bytes each token covers (token offsets).

function buildByteToChar(): string[] {
  const table: string[] = new Array(256);
  const keepsItsCodePoint = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    table[b] = keepsItsCodePoint(b) ? String.fromCodePoint(b) : String.fromCodePoint(next++);
  }
  return table;
}

/** byteToChar[b] is the vocabulary character standing for byte b. */
export const byteToChar: readonly string[] = buildByteToChar();

/** Inverse of byteToChar. */
export const charToByte: ReadonlyMap<string, number> = new Map(byteToChar.map((ch, b) => [ch, b]));

/** Maps UTF-8 bytes to their byte-level string form (one char per byte). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += byteToChar[b];
  return out;
}

/**
 * Number of raw bytes a byte-level vocabulary entry stands for, or -1 when the entry contains a character
 * outside the byte alphabet (then the tokenizer is not byte-level and offsets cannot be derived this way).
 */
export function byteLevelLength(token: string): number {
  let n = 0;
  for (const ch of token) {
    if (!charToByte.has(ch)) return -1;
    n++;
  }
  return n;
}
