// The one way files are written: through a temp file in the same directory, fsynced and renamed into place, so a
// crash leaves either the old file or the new one, never a torn one, and a temp file is never mistaken for output.
import { createHash } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';

// Per write call: stays under the kernel's ~2 GiB single-call limit.
const IO_CHUNK = 1 << 28;

/** A temporary path beside `dest`, unique to this process and call. */
export function tempPathFor(dest: string): string {
  return `${dest}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
}

/** Writes `path` atomically; `produce` streams the content through `write`. Returns the size and sha256. */
export async function writeFileAtomic(
  path: string,
  produce: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
): Promise<{ bytes: number; sha256: string }> {
  const tmp = tempPathFor(path);
  const hash = createHash('sha256');
  let bytes = 0;
  const fh = await open(tmp, 'w');
  try {
    await produce(async (chunk) => {
      for (let done = 0; done < chunk.length; ) {
        const { bytesWritten } = await fh.write(chunk, done, Math.min(IO_CHUNK, chunk.length - done));
        done += bytesWritten;
      }
      hash.update(chunk);
      bytes += chunk.length;
    });
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Writes one buffer or string (UTF-8) atomically. */
export function writeBytesAtomic(path: string, data: Uint8Array | string): Promise<{ bytes: number; sha256: string }> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return writeFileAtomic(path, (write) => write(bytes));
}
