// Content-addressed outputs. A step writes to a temporary file, then the bytes' digest names the final file, so a
// retried or resumed step that produces the same bytes lands on the same path (idempotent), and a reference
// (path + sha256 + rows) can be checked by any later reader.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArtifactRef } from '../schemas/artifact.ts';

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha256Bytes(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A temporary path beside `dest` that a crash can leave behind without ever being mistaken for output. */
export function tempPathFor(dest: string): string {
  return `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/**
 * Moves a finished temporary file to `<dir>/<stem>-<sha12>.<ext>` and returns its reference. Same bytes, same
 * name: a retry after a crash overwrites the file with identical content.
 */
export async function commitContentAddressed(
  tmpPath: string,
  dir: string,
  stem: string,
  format: ArtifactRef['format'],
  rows: number,
): Promise<ArtifactRef> {
  const sha256 = await sha256File(tmpPath);
  const ext = format === 'other' ? 'bin' : format;
  const path = join(dir, `${stem}-${sha256.slice(0, 12)}.${ext}`);
  await mkdir(dir, { recursive: true });
  await rename(tmpPath, path);
  const { size } = await stat(path);
  return { path, sha256, rows, bytes: size, format };
}

/** Writes bytes to a stable, human-facing name atomically (temp + rename) and returns the reference. */
export async function writeNamedArtifact(
  path: string,
  bytes: Uint8Array | string,
  format: ArtifactRef['format'],
  rows: number,
): Promise<ArtifactRef> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  return { path, sha256: sha256Bytes(data), rows, bytes: data.byteLength, format };
}

/** Confirms a referenced file still holds the bytes it was recorded with; a mismatch is never retried away. */
export async function verifyArtifact(ref: ArtifactRef): Promise<void> {
  const actual = await sha256File(ref.path);
  if (actual !== ref.sha256) {
    throw new Error(`artifact ${ref.path} changed since it was written: sha256 ${actual} != recorded ${ref.sha256}`);
  }
}
