// Streams the records of a JSON array file (DeepScaleR's published deepscaler.json) or a JSONL file, one record
// at a time, so a large file is never JSON.parse'd whole. The array scanner works on bytes: the structural
// characters of JSON ({ } [ ] " \ ,) are ASCII and never occur inside a UTF-8 multi-byte sequence, so chunk
// boundaries cannot split a token in a way the scanner misreads.
//
// Text is never altered: a record whose bytes are not valid UTF-8 is handed back with `invalid` set (the caller
// rejects that row naming file and line) instead of being decoded with U+FFFD replacements. A UTF-8 byte order
// mark at the very start of the file is skipped, as pyarrow's JSON reader (and so HF datasets) and Python's
// json.loads on bytes do; anywhere else it is content. A compressed or binary file is an error that says what it
// looks like, rather than "line 1 is not valid JSON".
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { BadInputError } from '../errors.ts';

export interface JsonRecord {
  /** 0-based record index within the file. */
  row: number;
  /** 1-based line where the record starts (for messages). */
  line: number;
  value: unknown;
  /** Set when the record's bytes cannot be taken as they are (not valid UTF-8): why; `value` is then undefined. */
  invalid?: string;
}

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Magic numbers of files that are not text, with what to tell the user. */
const NOT_TEXT: { magic: number[]; what: string }[] = [
  { magic: [0x1f, 0x8b], what: 'gzip-compressed (decompress it first, e.g. gunzip)' },
  { magic: [0x28, 0xb5, 0x2f, 0xfd], what: 'zstd-compressed (decompress it first, e.g. unzstd)' },
  { magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], what: 'xz-compressed (decompress it first, e.g. unxz)' },
  { magic: [0x50, 0x41, 0x52, 0x31], what: 'a parquet file (use a parquet format for this source)' },
];

/** Where the first invalid UTF-8 sequence starts in `bytes` (bytes are known to be invalid). */
function firstInvalidUtf8(bytes: Buffer): number {
  // Decoding stops being exact at the first replacement; re-encoding the good prefix gives its byte length.
  const text = bytes.toString('utf8');
  const i = text.indexOf('\ufffd');
  for (let at = i; at >= 0; at = text.indexOf('\ufffd', at + 1)) {
    const offset = Buffer.byteLength(text.slice(0, at));
    // A genuine U+FFFD in the input is three valid bytes (EF BF BD).
    if (!(bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd)) return offset;
  }
  return 0;
}

function utf8Problem(bytes: Buffer): string | undefined {
  if (isUtf8(bytes)) return undefined;
  return `not valid UTF-8 (first bad byte at offset ${firstInvalidUtf8(bytes)} of the record)`;
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const NEWLINE = 0x0a;

const isWs = (b: number): boolean => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** Reads records from `path`, detecting the layout from the first non-blank byte: `[` array, otherwise JSONL. */
export async function* readJsonRecords(path: string): AsyncGenerator<JsonRecord> {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let mode: 'unknown' | 'array' | 'lines' = 'unknown';
  const array = new ArrayScanner(path);
  const lines = new LineSplitter(path);
  let first = true;
  try {
    for await (let chunk of stream as AsyncIterable<Buffer>) {
      if (first) {
        first = false;
        const kind = NOT_TEXT.find((k) => k.magic.every((b, i) => chunk[i] === b));
        if (kind) throw new BadInputError(`${path}: the file is ${kind.what}; this format reads plain JSON or JSONL text`);
        if (chunk.subarray(0, 3).equals(BOM)) chunk = chunk.subarray(3);
      }
      if (mode === 'unknown') {
        const first = chunk.findIndex((b) => !isWs(b));
        if (first < 0) continue;
        mode = chunk[first] === OPEN_BRACKET ? 'array' : 'lines';
      }
      if (mode === 'array') yield* array.push(chunk);
      else yield* lines.push(chunk);
    }
  } catch (err) {
    if (err instanceof BadInputError) throw err;
    throw new BadInputError(`${path}: cannot read (${(err as Error).message})`);
  }
  if (mode === 'array') array.finish();
  else if (mode === 'lines') yield* lines.finish();
}

class LineSplitter {
  private pending: Buffer[] = [];
  private line = 0;
  private row = 0;
  constructor(private readonly path: string) {}

  *push(chunk: Buffer): Generator<JsonRecord> {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) break;
      const part = chunk.subarray(start, nl);
      const whole = this.pending.length ? Buffer.concat([...this.pending, part]) : part;
      this.pending = [];
      const rec = this.parse(whole);
      if (rec) yield rec;
      start = nl + 1;
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  *finish(): Generator<JsonRecord> {
    if (this.pending.length) {
      const rec = this.parse(Buffer.concat(this.pending));
      this.pending = [];
      if (rec) yield rec;
    }
  }

  private parse(bytes: Buffer): JsonRecord | null {
    this.line++;
    const invalid = utf8Problem(bytes);
    if (invalid) return { row: this.row++, line: this.line, value: undefined, invalid: `line ${this.line} is ${invalid}` };
    const text = bytes.toString('utf8');
    if (text.trim() === '') return null;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new BadInputError(`${this.path}: line ${this.line} is not valid JSON (${(err as Error).message}); the file is corrupt or truncated`);
    }
    return { row: this.row++, line: this.line, value };
  }
}

class ArrayScanner {
  private state: 'before' | 'between' | 'value' | 'after' = 'before';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private parts: Buffer[] = [];
  private line = 1;
  private valueLine = 1;
  private row = 0;
  constructor(private readonly path: string) {}

  *push(chunk: Buffer): Generator<JsonRecord> {
    let valueStart = this.state === 'value' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (b === NEWLINE) this.line++;
      if (this.state === 'value') {
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (b === BACKSLASH) this.escaped = true;
          else if (b === QUOTE) this.inString = false;
          continue;
        }
        if (b === QUOTE) this.inString = true;
        else if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth++;
        else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
          if (this.depth === 0) {
            // A scalar element ended by the array's closing bracket.
            this.parts.push(chunk.subarray(valueStart, i));
            yield this.emit();
            this.state = 'after';
            valueStart = -1;
            continue;
          }
          this.depth--;
          if (this.depth === 0) {
            this.parts.push(chunk.subarray(valueStart, i + 1));
            yield this.emit();
            this.state = 'between';
            valueStart = -1;
          }
        } else if (b === COMMA && this.depth === 0) {
          this.parts.push(chunk.subarray(valueStart, i));
          yield this.emit();
          this.state = 'between';
          valueStart = -1;
          this.expectValue = true;
        }
        continue;
      }
      if (isWs(b)) continue;
      if (this.state === 'before') {
        if (b !== OPEN_BRACKET) this.fail(`expected "[" at line ${this.line}`);
        this.state = 'between';
        this.expectValue = true;
        continue;
      }
      if (this.state === 'after') this.fail(`unexpected data after the closing "]" at line ${this.line}`);
      // state === 'between'
      if (b === COMMA && !this.expectValue) {
        this.expectValue = true;
        continue;
      }
      if (b === CLOSE_BRACKET) {
        this.state = 'after';
        continue;
      }
      if (!this.expectValue) this.fail(`expected "," or "]" after element ${this.row - 1} at line ${this.line}`);
      this.state = 'value';
      this.expectValue = false;
      this.valueLine = this.line;
      valueStart = i;
      if (b === OPEN_BRACE || b === OPEN_BRACKET) this.depth = 1;
      else if (b === QUOTE) this.inString = true;
    }
    if (this.state === 'value' && valueStart >= 0) this.parts.push(chunk.subarray(valueStart));
  }

  private expectValue = false;

  finish(): void {
    if (this.state !== 'after') {
      this.fail(`unexpected end of file inside the JSON array (after ${this.row} complete elements); the file is truncated`);
    }
  }

  private emit(): JsonRecord {
    const bytes = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = [];
    this.depth = 0;
    const invalid = utf8Problem(bytes);
    if (invalid) return { row: this.row++, line: this.valueLine, value: undefined, invalid: `element ${this.row - 1} (line ${this.valueLine}) is ${invalid}` };
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      this.fail(`element ${this.row} (line ${this.valueLine}) is not valid JSON (${(err as Error).message})`);
    }
    return { row: this.row++, line: this.valueLine, value };
  }

  private fail(what: string): never {
    throw new BadInputError(`${this.path}: ${what}`);
  }
}
