// Intermediate Arrow IPC files: streaming them back batch by batch, concatenating part files, and checking a
// recorded reference before reuse.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { RecordBatchReader } from 'apache-arrow';
import type { RecordBatch, Schema } from 'apache-arrow';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import { sha256File } from '../artifacts.ts';
import { BadInputError } from './errors.ts';
import { IpcStreamFile } from './io/arrow-write.ts';

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

/** Concatenates IPC part files (in the given order) into one content-addressed IPC stream. */
export async function concatIpc(parts: ArtifactRef[], schema: Schema, dir: string, stem: string): Promise<ArtifactRef> {
  const out = await IpcStreamFile.create(schema, dir, stem);
  for (const part of parts) {
    for await (const batch of readIpc(part, schema)) if (batch.numRows > 0) out.write(batch);
  }
  return out.commit();
}

/** The reference if the file still holds exactly the recorded bytes, else null (then the work is redone). */
export async function verifiedRef(ref: ArtifactRef | undefined): Promise<ArtifactRef | null> {
  if (!ref || typeof ref.path !== 'string') return null;
  try {
    const { size } = await stat(ref.path);
    if (size !== ref.bytes) return null;
    return (await sha256File(ref.path)) === ref.sha256 ? ref : null;
  } catch {
    return null;
  }
}
