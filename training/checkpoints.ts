// Content-addressed training checkpoints. A checkpoint directory holds the weights in HF layout (f32, exact), the
// AdamW moments, step, RNG and the caller's data position (engine/checkpoint.ts), plus manifest.json listing every
// file with its sha256. The checkpoint's digest is the sha256 of that manifest, and the directory is named by it
// (<root>/step-<step>-<sha12>), so the same state saved twice (a retried attempt) lands on the same name with the
// same bytes, and a reference (path + digest) proves on load that the files are the ones that were saved.
import { mkdir, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { sha256Bytes, sha256File } from '../core/digest.ts';
import { loadCheckpoint, loadTrainingState, saveCheckpoint, saveTrainingState } from '../engine/checkpoint.ts';
import type { Qwen3Config } from '../engine/config.ts';
import type { LearnerState } from '../engine/learner.ts';
import type { Weights } from '../engine/tensors.ts';
import type { CheckpointRef, DataPosition } from '../schemas/stage.ts';

const MANIFEST = 'manifest.json';

export interface TrainCheckpoint {
  config: Qwen3Config;
  rawConfig: Record<string, unknown>;
  weights: Weights;
  state: LearnerState;
  /** Optimizer steps of the run so far (names the directory); state.step is the learner's own count of updates. */
  step: number;
  position: DataPosition;
  /** Caller-owned JSON kept with the state (plain JSON only). */
  extra: Record<string, unknown>;
}

interface Manifest {
  format: 'agentrl.checkpoint';
  version: 1;
  step: number;
  position: DataPosition;
  files: { name: string; bytes: number; sha256: string }[];
}

async function listFiles(dir: string): Promise<Manifest['files']> {
  const names = (await readdir(dir)).filter((n) => n !== MANIFEST).sort();
  const files: Manifest['files'] = [];
  for (const name of names) files.push({ name, bytes: (await stat(join(dir, name))).size, sha256: await sha256File(join(dir, name)) });
  return files;
}

/** Saves a checkpoint under `root` and returns its reference. */
export async function saveTrainCheckpoint(root: string, ckpt: TrainCheckpoint): Promise<CheckpointRef> {
  const tmp = join(root, `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await mkdir(tmp, { recursive: true });
  try {
    await saveCheckpoint(tmp, { config: ckpt.config, weights: ckpt.weights, dtype: 'f32', rawConfig: ckpt.rawConfig });
    await saveTrainingState(tmp, { ...ckpt.state, extra: { ...ckpt.extra, position: ckpt.position } });
    const manifest: Manifest = { format: 'agentrl.checkpoint', version: 1, step: ckpt.step, position: ckpt.position, files: await listFiles(tmp) };
    const text = canonicalJson(manifest, 2);
    const sha256 = sha256Bytes(text);
    await writeBytesAtomic(join(tmp, MANIFEST), text);
    const path = join(root, `step-${String(ckpt.step).padStart(7, '0')}-${sha256.slice(0, 12)}`);
    const existing = await stat(join(path, MANIFEST)).then(() => true, () => false);
    if (existing) await rm(tmp, { recursive: true, force: true });
    else {
      await rm(path, { recursive: true, force: true }); // a torn earlier attempt without its manifest
      await rename(tmp, path);
    }
    return { path, sha256, step: ckpt.step, position: ckpt.position };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Checks every file of the checkpoint against its manifest and the manifest against `ref.sha256`. */
export async function verifyCheckpoint(ref: CheckpointRef): Promise<void> {
  const text = await readFile(join(ref.path, MANIFEST), 'utf8').catch(() => {
    throw new Error(`checkpoint ${ref.path}: no ${MANIFEST} (incomplete or not a checkpoint)`);
  });
  const digest = sha256Bytes(text);
  if (digest !== ref.sha256) throw new Error(`checkpoint ${ref.path}: manifest sha256 ${digest} != referenced ${ref.sha256}`);
  const manifest = JSON.parse(text) as Manifest;
  const actual = await listFiles(ref.path);
  const want = canonicalJson(manifest.files);
  if (canonicalJson(actual) !== want) {
    const bad = manifest.files.find((f) => !actual.some((a) => a.name === f.name && a.sha256 === f.sha256)) ?? actual.find((a) => !manifest.files.some((f) => f.name === a.name));
    throw new Error(`checkpoint ${ref.path}: file ${bad?.name ?? '?'} differs from its manifest`);
  }
}

/** Loads a checkpoint after verifying it (see verifyCheckpoint). */
export async function loadTrainCheckpoint(ref: CheckpointRef): Promise<TrainCheckpoint> {
  await verifyCheckpoint(ref);
  const model = await loadCheckpoint(ref.path);
  const state = await loadTrainingState(ref.path, model.weights);
  const { position, ...extra } = state.extra as { position: DataPosition } & Record<string, unknown>;
  return {
    config: model.config,
    rawConfig: model.rawConfig,
    weights: model.weights,
    state: { step: state.step, optimizer: state.optimizer, rng: state.rng },
    step: ref.step,
    position,
    extra,
  };
}
