// The glibc malloc settings a process that trains on the CPU device should start with. onnxruntime-node copies
// every output (every gradient, each step) into a fresh ArrayBuffer. By default glibc maps each buffer over
// 32 MiB fresh from the kernel, and touching fresh pages costs many times the copy itself; the buffers freed by
// the previous step are never reused. With one arena (device threads allocate too), no mmap and no trimming,
// they are (figures: docs/BENCHMARKS.md, "Engine design measurements"). The price: the heap keeps its peak size for the life of
// the process. glibc reads these only at start-up, so an entry point re-executes itself with them (see
// bench/engine/run.ts); other C libraries ignore the variable.
export const DEVICE_MALLOC_TUNABLES = ['glibc.malloc.arena_max=1', 'glibc.malloc.mmap_max=0', 'glibc.malloc.trim_threshold=68719476736'];

/** True when `env` already carries every one of the settings. */
export function hasDeviceMalloc(env: NodeJS.ProcessEnv = process.env): boolean {
  const set = new Set((env.GLIBC_TUNABLES ?? '').split(':'));
  return DEVICE_MALLOC_TUNABLES.every((t) => set.has(t));
}

/** `env` with the settings merged into GLIBC_TUNABLES (ours win where a key is set twice). */
export function withDeviceMalloc(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const ours = new Set(DEVICE_MALLOC_TUNABLES.map((t) => t.split('=')[0]));
  const kept = (env.GLIBC_TUNABLES ?? '').split(':').filter((t) => t && !ours.has(t.split('=')[0]));
  return { ...env, GLIBC_TUNABLES: [...kept, ...DEVICE_MALLOC_TUNABLES].join(':') };
}
