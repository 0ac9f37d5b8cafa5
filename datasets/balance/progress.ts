// The JSON-serialisable progress of one source's ingestion (heartbeated by the activity, given back as `resume`)
// and the result types. Kept free of Arrow/parquet imports: the activity's thread builds and merges these objects
// while the reading happens in worker threads.
import { createHash } from 'node:crypto';
import type { ArtifactRef, InputFileRecord } from '../../schemas/artifact.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';

export interface IngestCounts {
  read: number;
  rejected: Record<string, number>;
  eligible: number;
}

export interface IngestResult {
  source: string;
  candidates: ArtifactRef;
  rejects: ArtifactRef;
  inputs: InputFileRecord[];
  counts: IngestCounts;
}

/** One finished input file: what was read and the part files holding its rows. */
export interface FilePart extends IngestCounts {
  input: InputFileRecord;
  /** The identity its rows record as source_file (source-file.ts). */
  sourceFile: string;
  candidates: ArtifactRef;
  rejects: ArtifactRef;
}

/** The resumable progress object (JSON-serialisable; heartbeated by the activity). */
export interface IngestProgress {
  kind: 'balance-ingest';
  version: 1;
  source: string;
  /** Digest of the source config: parts made under other filters are never reused. */
  config: string;
  totalFiles: number;
  done: FilePart[];
  current: { path: string; rows: number } | null;
}

export function configDigest(source: SourceConfig): string {
  const { name, format, filters } = source;
  return createHash('sha256').update(JSON.stringify({ name, format, filters })).digest('hex').slice(0, 16);
}

export function isIngestProgress(v: unknown, source: SourceConfig): v is IngestProgress {
  const p = v as IngestProgress | null;
  return !!p && p.kind === 'balance-ingest' && p.version === 1 && p.source === source.name && p.config === configDigest(source) && Array.isArray(p.done);
}

/**
 * Builds the progress reports of one source's ingestion: finished parts in input-file order (whatever order they
 * finish in) and the file being read. Every report is a fresh object (callers may keep them).
 */
export class ProgressTracker {
  private readonly done: (FilePart | null)[];
  private readonly earlier: FilePart[];
  private current: IngestProgress['current'] = null;
  constructor(
    private readonly source: SourceConfig,
    private readonly files: string[],
    resume: unknown,
  ) {
    this.done = files.map(() => null);
    this.earlier = isIngestProgress(resume, source) ? resume.done : [];
  }

  /** The part an earlier attempt recorded for `path`, if any. */
  previous(path: string): FilePart | undefined {
    return this.earlier.find((p) => p.input?.path === path);
  }

  reading(path: string, rows: number): IngestProgress {
    this.current = { path, rows };
    return this.report();
  }

  finished(index: number, part: FilePart): IngestProgress {
    this.done[index] = part;
    if (this.current?.path === this.files[index]) this.current = null;
    return this.report();
  }

  /** All parts, in input-file order (every file must be finished). */
  parts(): FilePart[] {
    return this.done.map((p, i) => {
      if (!p) throw new Error(`ingest of "${this.source.name}": ${this.files[i]} was not finished`);
      return p;
    });
  }

  private report(): IngestProgress {
    return {
      kind: 'balance-ingest',
      version: 1,
      source: this.source.name,
      config: configDigest(this.source),
      totalFiles: this.files.length,
      done: this.done.filter((p): p is FilePart => p !== null),
      current: this.current ? { ...this.current } : null,
    };
  }
}
