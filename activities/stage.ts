// Steps every stage shares: fix where it writes and what it runs with (prepare), and leave the audit record.
// The recipe is validated here again because a run started from the Web UI never passed through the CLI.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { parseRecipe, RecipeError } from '../schemas/recipe.ts';
import type { CodeVersion, OutputRecord, StageAudit, StageContext } from '../schemas/stage.ts';
import type { ArtifactRef, InputFileRecord } from '../schemas/artifact.ts';
import { sha256Bytes, sha256File } from '../core/digest.ts';
import { writeNamedArtifact } from '../datasets/artifacts.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { PROJECT_ROOT } from '../core/project-root.ts';

let cachedVersion: CodeVersion | undefined;

/** The code that produced an artifact: package version plus the git commit (and whether it had local edits). */
export function codeVersion(): CodeVersion {
  if (cachedVersion) return cachedVersion;
  const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };
  const version: CodeVersion = { package: pkg.name, version: pkg.version };
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    version.gitCommit = git('rev-parse', 'HEAD');
    version.gitDirty = git('status', '--porcelain', '--untracked-files=no').length > 0;
  } catch {
    // Not a git checkout (an installed package): the package version is all there is.
  }
  cachedVersion = version;
  return version;
}

export interface PrepareInput {
  recipe: unknown;
  stage: string;
  /** The workflow id, used as the run id unless the recipe names one. */
  workflowId: string;
}

/** <output_dir>/<run-id>: where every stage of a run writes (relative paths resolve against base_dir). */
export function runDirOf(recipe: { base_dir?: string; output_dir: string }, runId: string): string {
  const baseDir = resolve(recipe.base_dir ?? process.cwd());
  return join(isAbsolute(recipe.output_dir) ? recipe.output_dir : resolve(baseDir, recipe.output_dir), runId);
}

/** The hash every stage's audit records: it covers what decides the outputs (run_id and base_dir only say where they go). */
export function recipeHash(recipe: { run_id?: string; base_dir?: string }): string {
  const { run_id: _r, base_dir: _b, ...decisive } = recipe;
  return sha256Bytes(canonicalJson(decisive));
}

export async function prepareStage(input: PrepareInput): Promise<StageContext> {
  let recipe;
  try {
    recipe = parseRecipe(input.recipe, `for run ${input.workflowId}`);
  } catch (err) {
    if (err instanceof RecipeError) throw ApplicationFailure.create({ type: 'RecipeError', message: err.message, nonRetryable: true });
    throw err;
  }
  const baseDir = resolve(recipe.base_dir ?? process.cwd());
  const runId = recipe.run_id ?? input.workflowId;
  const outDir = join(runDirOf(recipe, runId), input.stage);
  const workDir = join(outDir, 'work');
  await mkdir(workDir, { recursive: true });
  return {
    runId,
    stage: input.stage,
    outDir,
    workDir,
    baseDir,
    recipeHash: recipeHash(recipe),
    codeVersion: codeVersion(),
    recipe,
  };
}

/** An input file as an audit records it: which bytes were read (and how many rows, for a table read whole). */
export async function inputRecord(path: string, rows?: number): Promise<InputFileRecord> {
  const record: InputFileRecord = { path, sha256: await sha256File(path), bytes: (await stat(path)).size };
  if (rows !== undefined) record.rows = rows;
  return record;
}

/** The files of a Hugging Face model directory a training stage reads: weights, config and the chat files. */
export function modelInputFiles(modelDir: string, weightFiles: string[]): string[] {
  return [...weightFiles, join(modelDir, 'config.json'), join(modelDir, 'tokenizer.json'), join(modelDir, 'tokenizer_config.json')];
}

/** Writes <outDir>/audit.json (pretty, stable key order) and returns its reference. */
export async function writeStageAudit<C, O extends OutputRecord = ArtifactRef>(audit: StageAudit<C, O> & { outDir: string }): Promise<ArtifactRef> {
  const { outDir, ...record } = audit;
  return writeNamedArtifact(join(outDir, 'audit.json'), JSON.stringify(record, null, 2) + '\n', 'json', 0);
}
