// The balance stage's data library: the entry points the Temporal activities call. Each runs its CPU-bound work
// in a worker thread (see run-in-worker.ts) and passes data between steps as ArtifactRefs (absolute paths +
// sha256 + rows), never as rows.
import { readdir } from 'node:fs/promises';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import type { ArtifactRef } from '../../schemas/artifact.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import { BadInputError } from './errors.ts';
import type { IngestResult } from './ingest.ts';
import { runInWorker } from './run-in-worker.ts';
import type { SelectCounts } from './select.ts';

export { BadInputError, BalanceAbortError, ShortfallError } from './errors.ts';
export type { IngestCounts, IngestProgress, IngestResult } from './ingest.ts';
export type { SelectCounts } from './select.ts';
export { renderPrompt } from './write.ts';

/**
 * Expands a source's `files` against `baseDir`: plain paths as given, and `*` / `?` globs in the file-name part
 * (sorted by name). A glob matching nothing is an error: a recipe pointing at an empty folder is a mistake.
 */
export async function resolveSourceFiles(files: string[], baseDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const pattern of files) {
    const abs = isAbsolute(pattern) ? pattern : resolve(baseDir, pattern);
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
 * an optional `signal`: aborting it terminates the step's worker thread and rejects with BalanceAbortError
 * (name 'AbortError').
 */
export async function ingestSource(args: {
  source: SourceConfig;
  baseDir: string;
  workDir: string;
  resume?: unknown;
  onProgress?: (progress: unknown) => void;
  signal?: AbortSignal;
}): Promise<IngestResult> {
  const files = await resolveSourceFiles(args.source.files, args.baseDir);
  const workDir = resolve(args.workDir);
  return runInWorker<IngestResult>(
    { kind: 'ingest', args: { source: args.source, files, baseDir: resolve(args.baseDir), workDir, resume: args.resume } },
    args.onProgress,
    args.signal,
  );
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
