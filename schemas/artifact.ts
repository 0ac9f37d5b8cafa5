// Artifacts are passed between workflow steps by reference, never by value: Temporal payloads are capped at
// 2 MiB and histories at 50 MiB, and a reference with a digest lets every later step (and the audit) prove it
// read exactly the bytes an earlier step wrote.
import { z } from 'zod';

export const artifactRefSchema = z.object({
  /** Absolute path on the worker's file system. */
  path: z.string().min(1),
  /** Hex sha256 of the file's bytes. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Row count for tables; 0 for non-tabular files. */
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  format: z.enum(['parquet', 'arrow', 'json', 'jsonl', 'safetensors', 'other']),
});
export type ArtifactRef = z.infer<typeof artifactRefSchema>;

/** An input file as the audit records it: where it was, and which bytes were read. */
export interface InputFileRecord {
  path: string;
  sha256: string;
  bytes: number;
  /** Rows read, where the stage reads the file as one table (the GRPO stage's RL parquet files). */
  rows?: number;
}
