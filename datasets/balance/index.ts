// The balance stage's data library: the entry points the Temporal activities call. Each runs its CPU-bound work
// in a worker thread (core/worker-pool.ts) and passes data between steps as ArtifactRefs (absolute paths +
// sha256 + rows), never as rows.
import { readdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import { WorkerAbortError, WorkerPool } from '../../core/worker-pool.ts';
import { BadInputError, reviveError } from '../errors.ts';
import { ProgressTracker } from './progress.ts';
import { sourceFileIds } from './source-file.ts';
import type { FilePart, IngestResult } from './progress.ts';
import type { BalanceTask } from './worker-entry.ts';
import type { SelectCounts } from './select.ts';

export { BadInputError, ShortfallError } from '../errors.ts';
export { WorkerAbortError } from '../../core/worker-pool.ts';
export type { IngestCounts, IngestProgress, IngestResult } from './progress.ts';
export type { SelectCounts } from './select.ts';
export { renderPrompt } from './write.ts';

const pool = new WorkerPool<BalanceTask>(new URL('./worker-entry.ts', import.meta.url), reviveError);
const runInWorker = <T>(task: BalanceTask, onProgress?: (p: unknown) => void, signal?: AbortSignal): Promise<T> =>
  pool.run<T>(task, onProgress, signal);

/**
 * Lanes per source by default: one. The workflow already runs the five ingests at once, so they compete for the
 * cores; a second lane per source only adds memory there (docs/BENCHMARKS.md, balance stage). Callers with idle
 * cores can ask for more.
 */
const DEFAULT_LANES = 1;

/**
 * Expands a source's `files` against `baseDir`: plain paths as given, and `*` / `?` globs in the file-name part
 * (sorted by name). A glob matching nothing is an error: a recipe pointing at an empty folder is a mistake.
 */
export async function resolveSourceFiles(files: string[], baseDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const pattern of files) {
    // resolve also normalises absolute paths ("/d/./a/../a/x"), so a file has one spelling here however the
    // recipe wrote it: the duplicate check below and the lineage identity (source-file.ts) rely on that.
    const abs = resolve(baseDir, pattern);
    const name = basename(abs);
    if (!/[*?]/u.test(name)) {
      out.push(abs);
      continue;
    }
    const dir = dirname(abs);
    if (/[*?]/u.test(dir)) throw new BadInputError(`${pattern}: globs are supported in the file name only`);
    const re = new RegExp(`^${name.replace(/[.+^${}()|[\]\\]/gu, '\\$&').replace(/\*/gu, '.*').replace(/\?/gu, '.')}$`, 'u');
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      throw new BadInputError(`${pattern}: folder ${dir} not found`);
    }
    const matches = entries.filter((e) => re.test(e)).sort();
    if (!matches.length) throw new BadInputError(`${pattern}: no file matches in ${dir}`);
    out.push(...matches.map((m) => resolve(dir, m)));
  }
  return [...new Set(out)];
}

/**
 * Reads, normalises and filters one source. `resume` is a progress object an earlier attempt reported through
 * `onProgress`: its finished files are reused after their part files' sha256 is checked. Every entry point takes
 * an optional `signal`: aborting it terminates the step's worker thread and rejects with WorkerAbortError
 * (name 'AbortError').
 */
export async function ingestSource(args: {
  source: SourceConfig;
  baseDir: string;
  workDir: string;
  resume?: unknown;
  onProgress?: (progress: unknown) => void;
  signal?: AbortSignal;
  /** Worker threads reading this source's files at once (default 1; never more than files or cores). */
  lanes?: number;
}): Promise<IngestResult> {
  const files = await resolveSourceFiles(args.source.files, args.baseDir);
  const workDir = resolve(args.workDir);
  const lanes = Math.max(1, Math.min(args.lanes ?? DEFAULT_LANES, files.length, availableParallelism()));
  if (lanes === 1) {
    return runInWorker<IngestResult>(
      { kind: 'ingest', args: { source: args.source, files, workDir, resume: args.resume } },
      args.onProgress,
      args.signal,
    );
  }
  // Several files: `lanes` workers take files in order from a shared queue; the parts are concatenated in file
  // order afterwards, so the result does not depend on which lane read which file. The first failure (or the
  // caller's abort) stops the other lanes.
  const tracker = new ProgressTracker(args.source, files, args.resume);
  const ids = sourceFileIds(files);
  const stop = new AbortController();
  const onCallerAbort = (): void => stop.abort(args.signal?.reason);
  if (args.signal?.aborted) onCallerAbort();
  args.signal?.addEventListener('abort', onCallerAbort, { once: true });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < files.length && !stop.signal.aborted) {
      const i = next++;
      const path = files[i];
      const part = await runInWorker<FilePart>(
        { kind: 'ingestPart', args: { source: args.source, path, sourceFile: ids[i], workDir, previous: tracker.previous(path) } },
        (rows) => args.onProgress?.(tracker.reading(path, rows as number)),
        stop.signal,
      );
      const report = tracker.finished(i, part);
      if (!stop.signal.aborted) args.onProgress?.(report);
    }
  };
  try {
    const results = await Promise.allSettled(Array.from({ length: lanes }, () => lane().catch((err: unknown) => {
      stop.abort(err);
      throw err;
    })));
    // Report the error that stopped the lanes, not the AbortErrors it caused in the others.
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && (r.reason as Error)?.name !== 'AbortError') ??
      results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // A caller's abort wins, also when it came between two files (the lanes then just stop taking files).
    if (args.signal?.aborted) throw new WorkerAbortError('ingest', args.signal.reason);
    if (failed) throw failed.reason;
  } finally {
    args.signal?.removeEventListener('abort', onCallerAbort);
  }
  return runInWorker<IngestResult>({ kind: 'ingestFinish', args: { source: args.source.name, parts: tracker.parts(), workDir } }, undefined, args.signal);
}

/** Cross-source and within-source dedupe, then a seeded sample of `take` rows per source. */
export async function selectBalanced(args: {
  inputs: { source: string; candidates: ArtifactRef; take: number }[];
  seed: number;
  priority: string[];
  shortfall: 'error' | 'take_all';
  workDir: string;
  signal?: AbortSignal;
}): Promise<{ selected: ArtifactRef; rejects: ArtifactRef; counts: Record<string, SelectCounts> }> {
  const { signal, ...rest } = args;
  return runInWorker({ kind: 'select', args: { ...rest, workDir: resolve(rest.workDir) } }, undefined, signal);
}

/** Writes outDir/rl.parquet (verl layout) and outDir/rl.arrow: rows by data_source, then sampling rank. */
export async function writeRlDataset(args: {
  selected: ArtifactRef;
  templates: { math: string; code: string };
  agentName: string;
  split: string;
  outDir: string;
  signal?: AbortSignal;
}): Promise<{ parquet: ArtifactRef; arrow: ArtifactRef }> {
  const { signal, ...rest } = args;
  return runInWorker({ kind: 'writeRl', args: { ...rest, outDir: resolve(rest.outDir) } }, undefined, signal);
}

/** Concatenates reject tables (ingest and select) into outDir/rejects.parquet, in the order given. */
export async function writeRejectsTable(args: { rejects: ArtifactRef[]; outDir: string; signal?: AbortSignal }): Promise<ArtifactRef> {
  const { signal, ...rest } = args;
  return runInWorker({ kind: 'writeRejects', args: { ...rest, outDir: resolve(rest.outDir) } }, undefined, signal);
}
