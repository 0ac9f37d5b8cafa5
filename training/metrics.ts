// The metrics table of a training stage: one row per optimizer step. Steps are logged to a JSON-lines file as
// they finish; a resumed attempt first drops the rows past the checkpoint it resumes from (those steps run
// again), so the table never holds a step twice. The parquet file is rewritten from the log after each chunk.
import { appendFile, readFile } from 'node:fs/promises';
import { Float64, Int32, Table, vectorFromArray } from 'apache-arrow';
import { parquetBytes } from './parquet.ts';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import type { StepMetrics } from '../schemas/stage.ts';

const INT_FIELDS = ['step', 'epoch', 'tokens', 'trained_tokens'] as const;
const FLOAT_FIELDS = ['loss', 'grad_norm', 'lr', 'seconds', 'tokens_per_s'] as const;

export class MetricsLog {
  private constructor(
    readonly path: string,
    private rows: StepMetrics[],
  ) {}

  /** Opens the log at `path`, keeping only the steps up to `upToStep` (the checkpoint a run resumes from). */
  static async open(path: string, upToStep: number): Promise<MetricsLog> {
    const text = await readFile(path, 'utf8').catch(() => '');
    const byStep = new Map<number, StepMetrics>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let row: StepMetrics;
      try {
        row = JSON.parse(line) as StepMetrics;
      } catch {
        continue; // a line torn by a crash mid-append: its step runs again
      }
      if (row.step <= upToStep) byStep.set(row.step, row);
    }
    const rows = [...byStep.values()].sort((a, b) => a.step - b.step);
    await writeBytesAtomic(path, rows.map((r) => JSON.stringify(r) + '\n').join(''));
    return new MetricsLog(path, rows);
  }

  async append(row: StepMetrics): Promise<void> {
    this.rows.push(row);
    await appendFile(this.path, JSON.stringify(row) + '\n');
  }

  get all(): readonly StepMetrics[] {
    return this.rows;
  }

  get last(): StepMetrics | undefined {
    return this.rows.at(-1);
  }
}

/** Parquet bytes of the rows (sorted by step, one row per step: the latest of duplicates wins). */
export function metricsParquet(rows: readonly StepMetrics[]): Uint8Array {
  const byStep = new Map<number, StepMetrics>();
  for (const r of rows) byStep.set(r.step, r);
  const sorted = [...byStep.values()].sort((a, b) => a.step - b.step);
  const columns: Record<string, ReturnType<typeof vectorFromArray>> = {};
  for (const f of INT_FIELDS) columns[f] = vectorFromArray(sorted.map((r) => r[f]), new Int32());
  for (const f of FLOAT_FIELDS) columns[f] = vectorFromArray(sorted.map((r) => r[f]), new Float64());
  const ordered = ['step', 'epoch', 'loss', 'grad_norm', 'lr', 'tokens', 'trained_tokens', 'seconds', 'tokens_per_s'];
  const table = new Table(Object.fromEntries(ordered.map((k) => [k, columns[k]])));
  return parquetBytes(table);
}

export async function writeMetricsParquet(dest: string, rows: readonly StepMetrics[]): Promise<{ bytes: number; sha256: string; rows: number }> {
  const bytes = metricsParquet(rows);
  const written = await writeBytesAtomic(dest, bytes);
  return { ...written, rows: new Set(rows.map((r) => r.step)).size };
}
