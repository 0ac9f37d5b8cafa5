// Intermediate Arrow IPC files: streaming them back batch by batch and concatenating part files.
import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { Message, MessageHeader, RecordBatchReader } from 'apache-arrow';
import type { RecordBatch, Schema } from 'apache-arrow';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import { tempPathFor } from '../../core/atomic-write.ts';
import { commitContentAddressed } from '../artifacts.ts';
import { BadInputError } from '../errors.ts';
import { IpcStreamFile } from './arrow-write.ts';

/** Streams the batches of an intermediate IPC file we wrote; a schema that differs from `schema` is an error. */
export async function* readIpc(ref: ArtifactRef, schema: Schema): AsyncGenerator<RecordBatch> {
  let reader: AsyncIterable<RecordBatch>;
  try {
    reader = await RecordBatchReader.from(createReadStream(ref.path, { highWaterMark: 1 << 22 }));
  } catch (err) {
    throw new BadInputError(`${ref.path}: cannot read intermediate Arrow file (${(err as Error).message})`);
  }
  for await (const batch of reader) {
    const names = batch.schema.fields.map((f) => f.name).join(',');
    const want = schema.fields.map((f) => f.name).join(',');
    if (names !== want) throw new BadInputError(`${ref.path}: columns [${names}] are not the expected [${want}]`);
    yield batch;
  }
}

/**
 * Concatenates IPC part files (in the given order) into one content-addressed IPC stream. The parts are streams
 * this stage wrote with one schema, so their record-batch messages are copied byte for byte (one schema message,
 * the non-empty batches, the end-of-stream marker): the same bytes apache-arrow's writer gives when it decodes
 * and re-encodes them, without decoding ~600k rows. Anything unexpected in a part falls back to that writer.
 */
export async function concatIpc(parts: ArtifactRef[], schema: Schema, dir: string, stem: string): Promise<ArtifactRef> {
  const dest = `${dir}/${stem}.arrow`;
  const tmp = tempPathFor(dest);
  await mkdir(dir, { recursive: true });
  const out = await open(tmp, 'w');
  let rows = 0;
  let ok = true;
  try {
    let wroteSchema = false;
    for (const part of parts) {
      const copied = await copyBatches(part.path, schema, out, !wroteSchema);
      if (copied === null) {
        ok = false;
        break;
      }
      wroteSchema = true;
      rows += copied;
    }
    if (ok && rows > 0) await out.write(END_OF_STREAM);
  } catch (err) {
    await out.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await out.close();
  if (ok && rows > 0) return commitContentAddressed(tmp, dir, stem, 'arrow', rows);
  // No rows at all (the writer adds one empty batch) or a layout we do not copy: decode and re-encode.
  await rm(tmp, { force: true });
  const writer = await IpcStreamFile.create(schema, dir, stem);
  for (const part of parts) {
    for await (const batch of readIpc(part, schema)) if (batch.numRows > 0) writer.write(batch);
  }
  return writer.commit();
}

const CONTINUATION = 0xffffffff;
const END_OF_STREAM = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]);

/**
 * Appends the non-empty record-batch messages of the IPC stream at `path` to `out` (and its schema message when
 * `withSchema`). Returns the rows copied, or null when the file is not a plain stream of one schema message and
 * record batches (the caller then re-encodes).
 */
async function copyBatches(path: string, schema: Schema, out: FileHandle, withSchema: boolean): Promise<number | null> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const prefix = Buffer.alloc(8);
    let pos = 0;
    let rows = 0;
    let sawSchema = false;
    while (pos + 8 <= size) {
      await readExactly(fh, prefix, pos);
      if (prefix.readUInt32LE(0) !== CONTINUATION) return null;
      const metaLength = prefix.readInt32LE(4);
      if (metaLength === 0) return pos + 8 === size && sawSchema ? rows : null; // end-of-stream marker
      const meta = Buffer.alloc(metaLength);
      await readExactly(fh, meta, pos + 8);
      const message = Message.decode(meta);
      const bodyStart = pos + 8 + metaLength;
      const next = bodyStart + message.bodyLength;
      if (next > size) throw new BadInputError(`${path}: intermediate Arrow file is truncated`);
      if (message.headerType === MessageHeader.Schema) {
        if (sawSchema) return null;
        sawSchema = true;
        const names = (message.header() as Schema).fields.map((f) => f.name).join(',');
        const want = schema.fields.map((f) => f.name).join(',');
        if (names !== want) throw new BadInputError(`${path}: columns [${names}] are not the expected [${want}]`);
        if (withSchema) await out.write(Buffer.concat([prefix, meta]));
      } else if (message.headerType === MessageHeader.RecordBatch && sawSchema) {
        const n = (message.header() as { length: number }).length;
        if (n > 0) {
          await out.write(Buffer.concat([prefix, meta]));
          await copyRange(fh, out, bodyStart, message.bodyLength);
          rows += n;
        }
      } else return null;
      pos = next;
    }
    return null; // no end-of-stream marker
  } finally {
    await fh.close();
  }
}

async function readExactly(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, position);
  if (bytesRead !== buf.length) throw new BadInputError(`cannot read ${buf.length} bytes at ${position} of an intermediate Arrow file`);
}

async function copyRange(from: FileHandle, to: FileHandle, start: number, length: number): Promise<void> {
  const chunk = Buffer.allocUnsafe(Math.min(length, 8 << 20));
  for (let done = 0; done < length; ) {
    const n = Math.min(chunk.length, length - done);
    const { bytesRead } = await from.read(chunk, 0, n, start + done);
    if (bytesRead !== n) throw new BadInputError(`intermediate Arrow file ended inside a record batch body`);
    await to.write(chunk.subarray(0, n));
    done += n;
  }
}
