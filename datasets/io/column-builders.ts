// Direct builders for the flat columns of the stage's intermediate files (Utf8 and Int64). apache-arrow's
// vectorFromArray encodes every string through TextEncoder and grows its buffers value by value, which dominated
// the ingest profile (NuminaMath writes ~600k candidate rows). These write UTF-8 straight into one growing
// buffer, and take byte slices as they are (a problem read from an Arrow/parquet column is copied, never
// decoded and re-encoded). The buffers they hand over have exactly the layout vectorFromArray produces (the
// validity bitmap rounded up to 64 bytes, present only when a value is null), so the IPC bytes are unchanged.
import { Int64, makeData, Utf8 } from 'apache-arrow';
import type { Data } from 'apache-arrow';

const roundUp64 = (bytes: number): number => (bytes <= 0 ? 64 : Math.ceil(bytes / 64) * 64);

export class Utf8Column {
  private offsets = new Int32Array(1025);
  private bytes = Buffer.allocUnsafe(1 << 16);
  private pos = 0;
  private valid: Uint8Array | null = null;
  length = 0;
  nullCount = 0;

  private room(rows: number, bytes: number): void {
    if (this.length + 1 + rows > this.offsets.length) {
      const next = new Int32Array(Math.max(this.offsets.length * 2, this.length + 1 + rows));
      next.set(this.offsets.subarray(0, this.length + 1));
      this.offsets = next;
    }
    if (this.pos + bytes > this.bytes.length) {
      const next = Buffer.allocUnsafe(Math.max(this.bytes.length * 2, this.pos + bytes));
      this.bytes.copy(next, 0, 0, this.pos);
      this.bytes = next;
    }
  }

  private markNull(): void {
    if (!this.valid) this.valid = new Uint8Array(Math.max(1024, this.offsets.length)).fill(1, 0, this.length);
    else if (this.valid.length <= this.length) {
      const next = new Uint8Array(this.valid.length * 2);
      next.set(this.valid);
      this.valid = next;
    }
    this.valid[this.length] = 0;
    this.nullCount++;
  }

  private markValid(): void {
    if (!this.valid) return;
    if (this.valid.length <= this.length) {
      const next = new Uint8Array(this.valid.length * 2);
      next.set(this.valid);
      this.valid = next;
    }
    this.valid[this.length] = 1;
  }

  /** Appends a string; null and undefined are nulls (as in vectorFromArray). */
  push(value: string | null | undefined): void {
    if (value === null || value === undefined) {
      this.room(1, 0);
      this.markNull();
    } else {
      // A UTF-16 code unit never takes more than 3 UTF-8 bytes.
      this.room(1, value.length * 3);
      this.markValid();
      this.pos += this.bytes.write(value, this.pos, 'utf8');
    }
    this.offsets[++this.length] = this.pos;
  }

  /** Appends bytes that are already valid UTF-8 (a slice of another Utf8 column). */
  pushBytes(src: Uint8Array, start: number, end: number): void {
    this.room(1, end - start);
    this.markValid();
    this.bytes.set(src.subarray(start, end), this.pos);
    this.pos += end - start;
    this.offsets[++this.length] = this.pos;
  }

  get byteLength(): number {
    return this.pos;
  }

  /** Hands the column over as Arrow data and starts a new, empty one. */
  flush(): Data<Utf8> {
    const length = this.length;
    let nullBitmap: Uint8Array | undefined;
    if (this.nullCount > 0) {
      nullBitmap = new Uint8Array(roundUp64(Math.ceil(length / 8)));
      const valid = this.valid!;
      for (let i = 0; i < length; i++) if (valid[i]) nullBitmap[i >> 3] |= 1 << (i & 7);
    }
    const data = makeData({
      type: new Utf8(),
      length,
      nullCount: this.nullCount,
      nullBitmap,
      valueOffsets: this.offsets.slice(0, length + 1),
      data: new Uint8Array(this.bytes.subarray(0, this.pos)),
    });
    this.offsets = new Int32Array(1025);
    this.pos = 0;
    this.valid = null;
    this.length = 0;
    this.nullCount = 0;
    return data;
  }
}

export class Int64Column {
  private values = new BigInt64Array(1024);
  length = 0;

  push(value: number | bigint): void {
    if (this.length === this.values.length) {
      const next = new BigInt64Array(this.values.length * 2);
      next.set(this.values);
      this.values = next;
    }
    this.values[this.length++] = typeof value === 'bigint' ? value : BigInt(value);
  }

  flush(): Data<Int64> {
    const data = makeData({ type: new Int64(), length: this.length, nullCount: 0, data: this.values.slice(0, this.length) });
    this.values = new BigInt64Array(1024);
    this.length = 0;
    return data;
  }
}
