// The command line that starts one sandboxed fork server. Every flag here answers a measured trap (see
// docs/sandbox.md): as root, bubblewrap keeps capabilities unless they are dropped explicitly, and RLIMIT_NPROC is
// not enforced for uid 0, so a root launcher first switches to an unprivileged host uid with setpriv.
import { existsSync } from 'node:fs';

export interface SandboxCommandOptions {
  python: string;
  bwrap: string;
  setpriv: string;
  /** Host uid/gid the sandbox runs as when the launcher is root (inside, the process is always 65534). */
  hostUid: number;
  tmpfsBytes: number;
  shmBytes: number;
  /** JSON handed to the server (preload list). */
  serverConfig: string;
  serverSource: string;
}

/** Environment inside the sandbox: fixed, minimal, and deterministic (hash seed pinned). */
export const SANDBOX_ENV: Record<string, string> = {
  PATH: '/usr/bin:/bin',
  HOME: '/tmp',
  TMPDIR: '/tmp',
  LANG: 'C.UTF-8',
  LC_ALL: 'C.UTF-8',
  PYTHONIOENCODING: 'utf-8',
  PYTHONDONTWRITEBYTECODE: '1',
  PYTHONHASHSEED: '0',
  // An address-space cap plus glibc's per-thread arenas and BLAS thread pools makes threads fail to start.
  MALLOC_ARENA_MAX: '2',
  OPENBLAS_NUM_THREADS: '1',
  OMP_NUM_THREADS: '1',
  MKL_NUM_THREADS: '1',
  NUMEXPR_NUM_THREADS: '1',
  MPLBACKEND: 'Agg',
};

// Compiled under its own file name so the server can strip its frames from user tracebacks.
const BOOT = "import sys; exec(compile(sys.argv[1], '<agentrl-sandbox>', 'exec'))";

export function bwrapArgs(opts: Pick<SandboxCommandOptions, 'tmpfsBytes' | 'shmBytes'>): string[] {
  const args = [
    '--unshare-all', '--die-with-parent', '--cap-drop', 'ALL',
    '--unshare-user', '--uid', '65534', '--gid', '65534', '--disable-userns',
    '--new-session', '--as-pid-1', '--hostname', 'sandbox', '--clearenv',
  ];
  for (const [key, value] of Object.entries(SANDBOX_ENV)) args.push('--setenv', key, value);
  args.push('--ro-bind', '/usr', '/usr');
  for (const dir of ['bin', 'lib', 'lib64', 'sbin']) {
    if (existsSync(`/usr/${dir}`)) args.push('--symlink', `usr/${dir}`, `/${dir}`);
  }
  // numpy finds its BLAS through /etc/alternatives; nothing else of the host's /etc is visible.
  args.push('--ro-bind-try', '/etc/alternatives', '/etc/alternatives');
  args.push('--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache');
  args.push('--proc', '/proc', '--dev', '/dev');
  args.push('--size', String(opts.tmpfsBytes), '--tmpfs', '/tmp');
  args.push('--size', String(opts.shmBytes), '--tmpfs', '/dev/shm');
  // /dev itself is a tmpfs without a size cap that nothing wipes: read-only (its /dev/shm mount stays writable).
  args.push('--remount-ro', '/dev');
  args.push('--remount-ro', '/', '--chdir', '/tmp');
  return args;
}

/** argv (command first) that starts the server; setpriv is used only when the launcher is root. */
export function sandboxCommand(opts: SandboxCommandOptions): string[] {
  const inner = [opts.bwrap, ...bwrapArgs(opts), opts.python, '-I', '-c', BOOT, opts.serverSource, opts.serverConfig];
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) return inner;
  return [
    opts.setpriv, '--reuid', String(opts.hostUid), '--regid', String(opts.hostUid), '--clear-groups',
    '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--', ...inner,
  ];
}
