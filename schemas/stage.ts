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

export interface StageAudit {
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
  counts: Record<string, SourceCounts>;
  outputs: Record<string, ArtifactRef>;
  timings: StepTiming[];
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
  stages: { balance?: BalanceStageResult };
}

/** What the `progress` query answers, for the CLI and the UI. */
export interface RunProgress {
  runId: string;
  stage: string;
  step: string;
  done: string[];
}
