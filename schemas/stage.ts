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

/** What an audit's outputs list: at least where the bytes are and their sha256 (a checkpoint names its manifest's). */
export interface OutputRecord {
  path: string;
  sha256: string;
  rows?: number;
  bytes?: number;
}

export interface StageAudit<C = Record<string, SourceCounts>, O extends OutputRecord = ArtifactRef> {
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
  outputs: Record<string, O>;
  timings: StepTiming[];
  /** Training stages: digests of the base model and of the output checkpoint, and the training plan. */
  model?: Record<string, unknown>;
  /** The recipe as the stage ran it, every default filled in. */
  recipe?: unknown;
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
  stages: { balance?: BalanceStageResult; sft?: SftStageResult; grpo?: GrpoStageResult };
  /** <output_dir>/<run-id>/report.html, written when every stage has finished. */
  report?: string;
}

/**
 * Where a stage stands, as its workflow tells the pipeline that started it (the stage-progress signal), so the
 * pipeline's own page shows the running stage's step and latest metrics.
 */
export interface StageProgress {
  stage: string;
  /** What the stage is doing, e.g. "training 4 epochs", "epoch 2/4 done", "step 12/20 done". */
  state: string;
  /** Training steps done and planned (SFT optimizer steps, GRPO RL steps). */
  step?: number;
  totalSteps?: number;
  /** The latest headline metrics (schemas/headline-metrics.ts), as [label, value]. */
  latest?: [string, number][];
}

/** What the `progress` query answers, for the CLI and the UI. */
export interface RunProgress {
  runId: string;
  stage: string;
  step: string;
  done: string[];
  /** What the running stage last told the pipeline. */
  live?: StageProgress;
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
  /** Per epoch: the checkpoint it ended on, and whether its activity loaded the model (false: the worker held it). */
  epochs: { epoch: number; step: number; checkpoint: string; loaded: boolean }[];
}

/** The GRPO stage's audit counts: prompts trained on, held out, rejected; RL steps per epoch and taken. */
export interface GrpoCounts {
  train: number;
  validation: number;
  rejected: number;
  stepsPerEpoch: number;
  steps: number;
}

/** What the GRPO stage returns (workflows/grpo.ts). */
export interface GrpoStageResult {
  runId: string;
  /** RL steps finished. */
  steps: number;
  /** The final training checkpoint (weights, optimizer state, position). */
  checkpoint: CheckpointRef;
  /** The metrics table (one row per RL step; step 0 = validation before training). */
  metrics: { path: string; sha256: string; rows: number } | null;
  /** The last step's metrics, verl's names. */
  last: Record<string, number> | null;
}
