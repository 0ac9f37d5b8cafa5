// Content-addressed outputs. A step writes to a temporary file, then the bytes' digest names the final file, so a
// retried or resumed step that produces the same bytes lands on the same path (idempotent), and a reference
// (path + sha256 + rows) can be checked by any later reader.
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import { sha256File } from '../core/digest.ts';
import type { ArtifactRef } from '../schemas/artifact.ts';
import { BadInputError } from './errors.ts';


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
  const written = await writeBytesAtomic(path, bytes);
  return { path, sha256: written.sha256, rows, bytes: written.bytes, format };
}

/**
 * Confirms a referenced file still holds the bytes it was recorded with, before a step reads it: its size always
 * (free), its sha256 unless `sizeOnly`. A step that reads a large file only in part (select reads a few columns
 * of the candidates, which carry every problem and test) checks the size alone: hashing would read all the bytes
 * the partial read exists to skip. A missing or changed file is a BadInputError (non-retryable): reading it again
 * gives the same wrong bytes; the step that wrote it has to run again.
 */
export async function verifyArtifact(ref: ArtifactRef, opts: { sizeOnly?: boolean } = {}): Promise<void> {
  let size: number;
  try {
    size = (await stat(ref.path)).size;
  } catch {
    throw new BadInputError(`artifact ${ref.path} is gone since it was written`);
  }
  if (size !== ref.bytes) throw new BadInputError(`artifact ${ref.path} changed since it was written: ${size} bytes, recorded ${ref.bytes}`);
  if (opts.sizeOnly) return;
  const actual = await sha256File(ref.path);
  if (actual !== ref.sha256) {
    throw new BadInputError(`artifact ${ref.path} changed since it was written: sha256 ${actual}, recorded ${ref.sha256}`);
  }
}

/** The reference if the file still holds exactly the recorded bytes, else null (a resumed step then redoes it). */
export async function verifiedRef(ref: ArtifactRef | undefined): Promise<ArtifactRef | null> {
  if (!ref || typeof ref.path !== 'string') return null;
  try {
    await verifyArtifact(ref);
    return ref;
  } catch {
    return null;
  }
}
