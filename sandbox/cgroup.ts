// A memory cgroup around one sandbox server. RLIMIT_AS bounds each process alone, so a snippet with many processes
// (or SysV shared memory, which no rlimit counts) could hold far more than memoryMb; a cgroup bounds everything the
// sandbox holds together. Used only when the launcher is root and the machine lets it create a cgroup (v2: memory
// controller enabled for our cgroup's children; v1: a writable memory hierarchy). Otherwise null: the documented
// fallback is the per-process limits (docs/sandbox.md).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  readonly dir: string;
  /** Cap on everything the sandbox holds (server + snippet processes + shared memory + tmpfs pages). */
  setLimit(bytes: number): void;
  /** argv prefix that moves the launcher into the cgroup (and shields it from the OOM killer) before exec. */
  wrap(argv: string[]): string[];
  /** Remove the cgroup once its processes are gone (retries briefly: the kernel frees it asynchronously). */
  remove(): void;
}

const ROOT = '/sys/fs/cgroup';

function ownCgroupDir(): { dir: string; limitFile: string } | null {
  const lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  if (existsSync(join(ROOT, 'cgroup.controllers'))) {
    const path = lines.find((line) => line.startsWith('0::'))?.slice(3);
    if (path === undefined) return null;
    const dir = join(ROOT, path);
    const enabled = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8');
    return /\bmemory\b/.test(enabled) ? { dir, limitFile: 'memory.max' } : null;
  }
  const path = lines.map((line) => line.split(':')).find(([, controllers]) => controllers?.split(',').includes('memory'))?.[2];
  if (path === undefined || !existsSync(join(ROOT, 'memory'))) return null;
  return { dir: join(ROOT, 'memory', path), limitFile: 'memory.limit_in_bytes' };
}

export function createMemoryCgroup(name: string): MemoryCgroup | null {
  if (process.getuid?.() !== 0) return null;
  let dir: string;
  let limitFile: string;
  try {
    const parent = ownCgroupDir();
    if (!parent) return null;
    dir = join(parent.dir, name);
    limitFile = join(dir, parent.limitFile);
    mkdirSync(dir, { recursive: true });
    writeFileSync(limitFile, String(64 * 1024 * 1024 * 1024));
  } catch {
    return null;
  }
  let current = -1;
  return {
    dir,
    setLimit(bytes: number): void {
      if (bytes === current) return;
      try {
        writeFileSync(limitFile, String(bytes));
        current = bytes;
      } catch {
        // Usage is above the new cap right now (EBUSY): the old cap stays; the next request tries again.
      }
    },
    wrap(argv: string[]): string[] {
      // The OOM shield is best effort (some kernels refuse it); joining the cgroup is not.
      const script = 'echo $$ > "$0/cgroup.procs" || exit 1; { echo -1000 > /proc/self/oom_score_adj; } 2>/dev/null; exec "$@"';
      return ['/bin/sh', '-c', script, dir, ...argv];
    },
    remove(): void {
      let tries = 0;
      const attempt = () => {
        try {
          rmdirSync(dir);
        } catch {
          if (++tries < 50) setTimeout(attempt, 100).unref();
        }
      };
      attempt();
    },
  };
}
