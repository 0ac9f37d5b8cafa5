// Column- and row-level access to the stage's own intermediate IPC streams (flat Utf8/Int64 schemas, no
// compression), reading only the bytes asked for. Select needs four small id columns of every candidate and the
// full rows of the 2,000 it keeps; the candidate files also hold every problem text and every TACO test (hundreds
// of MB), which a RecordBatchReader would read and copy in full, twice. Runs in a worker thread, so reads are
// synchronous.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DataType, makeData, makeVector, Message, MessageHeader } from 'apache-arrow';
import type { Schema, Vector } from 'apache-arrow';
import { BadInputError } from '../errors.ts';

interface BatchIndex {
  /** File offset of the message body (buffer offsets are relative to it). */
  body: number;
  length: number;
  nodes: { length: number; nullCount: number }[];
  buffers: { offset: number; length: number }[];
}

export class IpcColumns {
  readonly batches: BatchIndex[] = [];
  /** Index of each field's first buffer (validity) in a batch's buffer list. */
  private readonly firstBuffer: number[] = [];
  private readonly fd: number;

  constructor(
    readonly path: string,
    readonly schema: Schema,
  ) {
    let b = 0;
    for (const f of schema.fields) {
      this.firstBuffer.push(b);
      if (DataType.isUtf8(f.type)) b += 3;
      else if (DataType.isInt(f.type) && f.type.bitWidth === 64) b += 2;
      else throw new Error(`IpcColumns: field "${f.name}" has type ${String(f.type)}; only Utf8 and Int64 are supported`);
    }
    this.fd = openSync(path, 'r');
    try {
      this.index();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  private read(position: number, length: number): Uint8Array {
    // A fresh ArrayBuffer per read keeps Int32/BigInt64 views aligned.
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, position + done);
      if (n === 0) throw new BadInputError(`${this.path}: intermediate Arrow file is truncated`);
      done += n;
    }
    return out;
  }

  private index(): void {
    const size = fstatSync(this.fd).size;
    const want = this.schema.fields.map((f) => f.name).join(',');
    let pos = 0;
    let sawSchema = false;
    while (pos + 8 <= size) {
      const prefix = Buffer.from(this.read(pos, 8));
      if (prefix.readUInt32LE(0) !== 0xffffffff) throw new BadInputError(`${this.path}: not an Arrow IPC stream written by this stage`);
      const metaLength = prefix.readInt32LE(4);
      if (metaLength === 0) break;
      const message = Message.decode(this.read(pos + 8, metaLength));
      const body = pos + 8 + metaLength;
      if (message.headerType === MessageHeader.Schema) {
        const names = (message.header() as Schema).fields.map((f) => f.name).join(',');
        if (names !== want) throw new BadInputError(`${this.path}: columns [${names}] are not the expected [${want}]`);
        sawSchema = true;
      } else if (message.headerType === MessageHeader.RecordBatch) {
        const h = message.header() as { length: number; nodes: { length: number; nullCount: number }[]; buffers: { offset: number; length: number }[]; compression?: unknown };
        if (h.compression) throw new BadInputError(`${this.path}: compressed intermediate Arrow batches are not expected`);
        this.batches.push({
          body,
          length: h.length,
          nodes: h.nodes.map((n) => ({ length: Number(n.length), nullCount: Number(n.nullCount) })),
          buffers: h.buffers.map((r) => ({ offset: Number(r.offset), length: Number(r.length) })),
        });
      } else throw new BadInputError(`${this.path}: unexpected IPC message type ${message.headerType}`);
      pos = body + message.bodyLength;
    }
    if (!sawSchema) throw new BadInputError(`${this.path}: no Arrow schema message`);
  }

  private field(name: string): number {
    const j = this.schema.fields.findIndex((f) => f.name === name);
    if (j < 0) throw new Error(`IpcColumns: no field "${name}"`);
    return j;
  }

  private region(batch: BatchIndex, buffer: number): Uint8Array {
    const r = batch.buffers[buffer];
    return this.read(batch.body + r.offset, r.length);
  }

  /** One column of one batch as a Vector, reading only that column's buffers. */
  column(b: number, name: string): Vector {
    const batch = this.batches[b];
    const j = this.field(name);
    const type = this.schema.fields[j].type;
    const first = this.firstBuffer[j];
    const { length, nullCount } = batch.nodes[j];
    const nullBitmap = nullCount > 0 ? this.region(batch, first) : undefined;
    if (DataType.isUtf8(type)) {
      const offsets = this.region(batch, first + 1);
      const valueOffsets = new Int32Array(offsets.buffer, 0, length + 1);
      return makeVector(makeData({ type, length, nullCount, nullBitmap, valueOffsets, data: this.region(batch, first + 2) }));
    }
    const values = this.region(batch, first + 1);
    return makeVector(makeData({ type, length, nullCount, nullBitmap, data: new BigInt64Array(values.buffer, 0, length) }));
  }

  /** One cell, reading only its bytes: a string (or null) for Utf8, a number for Int64. */
  value(b: number, name: string, i: number): string | number | null {
    const batch = this.batches[b];
    const j = this.field(name);
    const first = this.firstBuffer[j];
    if (batch.nodes[j].nullCount > 0) {
      const bits = this.read(batch.body + batch.buffers[first].offset + (i >> 3), 1);
      if ((bits[0] & (1 << (i & 7))) === 0) return null;
    }
    if (DataType.isUtf8(this.schema.fields[j].type)) {
      const o = new Int32Array(this.read(batch.body + batch.buffers[first + 1].offset + i * 4, 8).buffer);
      const start = batch.body + batch.buffers[first + 2].offset + o[0];
      return Buffer.from(this.read(start, o[1] - o[0]).buffer).toString('utf8');
    }
    return Number(new BigInt64Array(this.read(batch.body + batch.buffers[first + 1].offset + i * 8, 8).buffer)[0]);
  }
}
