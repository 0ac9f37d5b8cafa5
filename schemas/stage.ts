// What stages hand each other and what the audit records. Types only: workflows import them without pulling
// any I/O into Temporal's deterministic sandbox.
import type { ArtifactRef, InputFileRecord } from './artifact.ts';
import type { Recipe } from './recipe.ts';

/** Everything a stage needs to know about where it runs, fixed once by the first step. */
export interface StageContext {
  runId: string;
  stage: string;
  /** <output_dir>/<run-id>/<stage>: the user-facing outputs and audit.json. */
  outDir: string;
  /** Content-addressed intermediate files of this stage. */
  workDir: string;
  baseDir: string;
  recipeHash: string;
  codeVersion: CodeVersion;
  /** The recipe with every default filled in, as validated on the worker. */
  recipe: Recipe;
}

export interface CodeVersion {
  package: string;
  version: string;
  gitCommit?: string;
  gitDirty?: boolean;
}

export interface SourceCounts {
  read: number;
  rejected: Record<string, number>;
  eligibleBeforeDedupe: number;
  duplicateWithin: number;
  duplicateAcross: number;
  eligible: number;
  requested: number;
  sampled: number;
  shortfall: number;
}

export interface StepTiming {
  step: string;
  startedAt: string;
  ms: number;
}

export interface StageAudit<C = Record<string, SourceCounts>> {
  stage: string;
  runId: string;
  workflowId: string;
  recipeName: string;
  recipeHash: string;
  seed: number;
  codeVersion: CodeVersion;
  startedAt: string;
  finishedAt: string;
  inputs: Record<string, InputFileRecord[]>;
  counts: C;
  outputs: Record<string, ArtifactRef>;
  timings: StepTiming[];
  /** Training stages: digests of the base model and of the output checkpoint, and the training plan. */
  model?: Record<string, unknown>;
}

export interface BalanceStageResult {
  runId: string;
  outDir: string;
  rlParquet: ArtifactRef;
  rlArrow: ArtifactRef;
  rejects: ArtifactRef;
  audit: ArtifactRef;
  counts: Record<string, SourceCounts>;
}

export interface PipelineResult {
  runId: string;
  stages: { balance?: BalanceStageResult; sft?: SftStageResult };
}

/** What the `progress` query answers, for the CLI and the UI. */
export interface RunProgress {
  runId: string;
  stage: string;
  step: string;
  done: string[];
}

// ---- training stages ---------------------------------------------------------------------------------------------

/** Where training stands: the next batch to train (batch 0 of the next epoch once an epoch is finished). */
export interface DataPosition {
  epoch: number;
  batch: number;
}

/** A content-addressed training checkpoint (training/checkpoints.ts): its directory and the manifest's sha256. */
export interface CheckpointRef {
  path: string;
  sha256: string;
  /** Optimizer steps taken. */
  step: number;
  position: DataPosition;
}

/** One optimizer step's row of a stage's metrics table. */
export interface StepMetrics {
  step: number;
  epoch: number;
  loss: number;
  grad_norm: number;
  lr: number;
  /** Tokens in the step's rows (input tokens, padding excluded). */
  tokens: number;
  /** Tokens with loss mask 1. */
  trained_tokens: number;
  seconds: number;
  tokens_per_s: number;
}

export interface SftCounts {
  files: number;
  read: number;
  accepted: number;
  rejected: number;
  truncated: number;
  tokens: number;
  trainedTokens: number;
  longestRow: number;
  rejectedByReason: Record<string, number>;
  stepsPerEpoch: number;
  epochs: number;
  steps: number;
}

export interface SftStageResult {
  runId: string;
  outDir: string;
  /** The exported Hugging Face directory and its files. */
  model: { dir: string; files: ArtifactRef[] };
  /** The final training checkpoint (weights, optimizer state, position). */
  checkpoint: CheckpointRef;
  /** Digest of the exported weights (training/digest.ts), equal to the final checkpoint's. */
  modelDigest: string;
  baseModelDigest: string;
  tokens: ArtifactRef;
  rejects: ArtifactRef;
  metrics: ArtifactRef;
  audit: ArtifactRef;
  counts: SftCounts;
  last?: StepMetrics;
}
