// Model checkpoints in Hugging Face layout (config.json + model.safetensors, or shards + model.safetensors.index.json)
// and the training state saved beside them (AdamW moments, step, RNG, caller extras) so a run resumes exactly.
// Every file is written atomically and deterministically; config.json / training_state.json are written last, so a
// directory whose final file is present holds a complete checkpoint.
import { readFile, readdir, rm, mkdir, stat } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { readQwen3Config, qwen3ParamShapes, toHfConfig } from './config.ts';
import type { Qwen3Config } from './config.ts';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import { canonicalJson } from '../core/canonical-json.ts';
import { sha256File } from '../core/digest.ts';
import { readSafetensors, writeSafetensors, storedBytes } from './safetensors.ts';
import type { LoadedTensor, WriteDtype } from './safetensors.ts';
import { Rng } from './rng.ts';
import type { RngState } from './rng.ts';
import type { HostTensor, Weights } from './tensors.ts';

export type SaveDtype = 'f32' | 'bf16';

export interface Checkpoint {
  config: Qwen3Config;
  /** In canonical Qwen3 parameter order, widened to f32. */
  weights: Weights;
  /** The config.json object as read (token ids and other fields the engine does not use), kept for re-saving. */
  rawConfig: Record<string, unknown>;
}

export interface SaveCheckpointOptions {
  config: Qwen3Config;
  weights: Weights;
  dtype: SaveDtype;
  rawConfig?: Record<string, unknown>;
  /** Shard when the tensors exceed this many bytes (HF's default is 5 GB). */
  maxShardBytes?: number;
}

export interface TrainingState {
  step: number;
  optimizer: { m: Weights; v: Weights };
  rng: RngState;
  /** Caller-owned JSON (data cursor, epoch, schedule...). Must be plain JSON: no NaN, undefined or BigInt. */
  extra: Record<string, unknown>;
}

const INDEX_FILE = 'model.safetensors.index.json';
const SINGLE_FILE = 'model.safetensors';
const STATE_FILE = 'training_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';
const SHARD_RE = /^model-\d{5}-of-\d{5}\.safetensors$/;
const STATE_FORMAT = 'agentrl.training_state';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function readJson(path: string): Promise<unknown> {
  const text = await readFile(path, 'utf8').catch((err: Error) => {
    throw new Error(`${path}: cannot read (${err.message})`);
  });
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON (${(err as Error).message})`);
  }
}

/** Shard file name -> tensor names it must hold, from an HF index file; rejects paths that leave the directory. */
async function readIndex(dir: string): Promise<Map<string, string[]>> {
  const path = join(dir, INDEX_FILE);
  const index = (await readJson(path)) as { weight_map?: unknown };
  const map = index?.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${path}: "weight_map" must be an object of tensor name -> shard file`);
  const shards = new Map<string, string[]>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string' || file === '' || basename(file) !== file || file === '..') {
      throw new Error(`${path}: weight_map["${name}"] must be a file name inside the checkpoint directory, got ${JSON.stringify(file)}`);
    }
    const list = shards.get(file) ?? [];
    list.push(name);
    shards.set(file, list);
  }
  if (shards.size === 0) throw new Error(`${path}: weight_map is empty`);
  return shards;
}

/** Reads every weight file of a checkpoint directory: name -> (tensor, file it came from). */
async function readWeightFiles(dir: string): Promise<Map<string, { tensor: LoadedTensor; file: string }>> {
  const found = new Map<string, { tensor: LoadedTensor; file: string }>();
  if (await exists(join(dir, INDEX_FILE))) {
    const shards = [...(await readIndex(dir))].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [file, names] of shards) {
      if (!(await exists(join(dir, file)))) throw new Error(`${join(dir, INDEX_FILE)}: shard "${file}" (holding "${names[0]}") does not exist`);
    }
    for (const [file, names] of shards) {
      const path = join(dir, file);
      const { tensors } = await readSafetensors(path);
      const listed = new Set(names);
      for (const name of names) {
        if (!tensors.has(name)) throw new Error(`${path}: tensor "${name}" is listed for this shard in ${INDEX_FILE} but missing from it`);
      }
      for (const [name, tensor] of tensors) {
        if (!listed.has(name)) throw new Error(`${path}: tensor "${name}" is not assigned to this shard in ${INDEX_FILE}`);
        found.set(name, { tensor, file: path });
      }
    }
    return found;
  }
  const single = join(dir, SINGLE_FILE);
  if (!(await exists(single))) throw new Error(`${dir}: no ${SINGLE_FILE} or ${INDEX_FILE} found`);
  for (const [name, tensor] of (await readSafetensors(single)).tensors) found.set(name, { tensor, file: single });
  return found;
}

/** Loads config + weights (f32, bf16 or f16 on disk; single file or sharded), checking every name and shape. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const { config, raw } = await readQwen3Config(join(dir, 'config.json'));
  const found = await readWeightFiles(dir);
  const expected = qwen3ParamShapes(config);
  const weights: Weights = new Map();
  for (const [name, shape] of expected) {
    const hit = found.get(name);
    if (!hit) throw new Error(`${dir}: tensor "${name}" required by config.json is missing from the weight files`);
    if (hit.tensor.shape.length !== shape.length || hit.tensor.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${hit.file}: tensor "${name}" has shape ${JSON.stringify(hit.tensor.shape)} but config.json implies ${JSON.stringify(shape)}`);
    }
    weights.set(name, { shape: hit.tensor.shape, data: hit.tensor.data });
  }
  for (const [name, hit] of found) {
    // Some exporters store the tied head anyway; the model reads the embedding, as transformers does.
    if (name === 'lm_head.weight' && config.tieWordEmbeddings) continue;
    if (!expected.has(name)) throw new Error(`${hit.file}: unexpected tensor "${name}" (not a parameter of this Qwen3 config)`);
  }
  return { config, weights, rawConfig: raw };
}

function checkWeights(config: Qwen3Config, weights: Weights, what: string): void {
  const expected = qwen3ParamShapes(config);
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) throw new Error(`${what}: tensor "${name}" is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${what}: tensor "${name}" has shape ${JSON.stringify(t.shape)} but the config implies ${JSON.stringify(shape)}`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name)) {
      const why = name === 'lm_head.weight' ? ' (tie_word_embeddings is true: the head is the embedding)' : '';
      throw new Error(`${what}: unexpected tensor "${name}"${why}`);
    }
  }
}

/** Groups sorted tensor names into shards of at most maxBytes (a larger tensor gets a shard of its own). */
function planShards(weights: Weights, dtype: WriteDtype, maxBytes: number): string[][] {
  const shards: string[][] = [];
  let current: string[] = [];
  let size = 0;
  for (const name of [...weights.keys()].sort()) {
    const bytes = storedBytes(weights.get(name)!, dtype);
    if (current.length > 0 && size + bytes > maxBytes) {
      shards.push(current);
      current = [];
      size = 0;
    }
    current.push(name);
    size += bytes;
  }
  if (current.length > 0) shards.push(current);
  return shards;
}

/** Saves in HF layout; returns the files written (name, bytes, sha256), config.json last. */
export async function saveCheckpoint(dir: string, opts: SaveCheckpointOptions): Promise<{ files: { name: string; bytes: number; sha256: string }[] }> {
  if (opts.dtype !== 'f32' && opts.dtype !== 'bf16') throw new Error(`saveCheckpoint: dtype must be "f32" or "bf16", got ${JSON.stringify(opts.dtype)}`);
  const maxShardBytes = opts.maxShardBytes ?? 5_000_000_000;
  if (!(Number.isSafeInteger(maxShardBytes) && maxShardBytes > 0)) throw new Error(`saveCheckpoint: maxShardBytes must be a positive integer, got ${maxShardBytes}`);
  checkWeights(opts.config, opts.weights, `saveCheckpoint(${dir})`);
  const dtype: WriteDtype = opts.dtype === 'f32' ? 'F32' : 'BF16';
  await mkdir(dir, { recursive: true });

  const shards = planShards(opts.weights, dtype, maxShardBytes);
  const names = shards.length === 1 ? [SINGLE_FILE] : shards.map((_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`);
  const files: { name: string; bytes: number; sha256: string }[] = [];
  const weightMap: Record<string, string> = {};
  let totalBytes = 0;
  let totalParams = 0;
  for (let i = 0; i < shards.length; i++) {
    const subset: Weights = new Map(shards[i].map((n) => [n, opts.weights.get(n)!]));
    const written = await writeSafetensors(join(dir, names[i]), subset, { dtype, metadata: { format: 'pt' } });
    files.push({ name: names[i], ...written });
    for (const [n, t] of subset) {
      weightMap[n] = names[i];
      totalBytes += storedBytes(t, dtype);
      totalParams += t.data.length;
    }
  }
  if (shards.length > 1) {
    const index = { metadata: { total_parameters: totalParams, total_size: totalBytes }, weight_map: weightMap };
    files.push({ name: INDEX_FILE, ...(await writeBytesAtomic(join(dir, INDEX_FILE), canonicalJson(index, 2))) });
  }
  // Remove weight files of an earlier save with another layout, or the loader would see stale or duplicate tensors.
  for (const entry of await readdir(dir)) {
    const stale = (entry === SINGLE_FILE || entry === INDEX_FILE || SHARD_RE.test(entry)) && !files.some((f) => f.name === entry);
    if (stale) await rm(join(dir, entry), { force: true });
  }
  const hfConfig = toHfConfig(opts.config, opts.dtype === 'f32' ? 'float32' : 'bfloat16', opts.rawConfig ?? {});
  files.push({ name: 'config.json', ...(await writeBytesAtomic(join(dir, 'config.json'), JSON.stringify(hfConfig, null, 2) + '\n')) });
  return { files };
}

// ---- training state --------------------------------------------------------------------------------------------

function checkMoments(m: Weights, v: Weights, what: string, like?: Weights): void {
  const reference = like ?? m;
  for (const [label, moments] of [['m', m], ['v', v]] as const) {
    for (const [name, t] of reference) {
      const got = moments.get(name);
      if (!got) throw new Error(`${what}: optimizer ${label} has no tensor "${name}"`);
      if (got.shape.length !== t.shape.length || got.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(`${what}: optimizer ${label} "${name}" has shape ${JSON.stringify(got.shape)}, expected ${JSON.stringify(t.shape)}`);
      }
    }
    for (const name of moments.keys()) {
      if (!reference.has(name)) throw new Error(`${what}: optimizer ${label} has unexpected tensor "${name}"`);
    }
  }
}

/**
 * Saves AdamW moments (f32, as `m.<param>` / `v.<param>` in optimizer.safetensors), then training_state.json with
 * step, RNG state, extras and the optimizer file's sha256 (written last: its presence marks a complete save).
 */
export async function saveTrainingState(dir: string, state: TrainingState): Promise<void> {
  const what = `saveTrainingState(${dir})`;
  if (!(Number.isSafeInteger(state.step) && state.step >= 0)) throw new Error(`${what}: step must be a non-negative integer, got ${state.step}`);
  checkMoments(state.optimizer.m, state.optimizer.v, what);
  Rng.fromState(state.rng); // validates before anything is written
  const extraJson = canonicalJson(state.extra); // throws early on values that would not round-trip
  if (!extraJson.startsWith('{')) throw new Error(`${what}: extra must be a JSON object`);
  await mkdir(dir, { recursive: true });
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of state.optimizer.m) tensors.set(`m.${name}`, t);
  for (const [name, t] of state.optimizer.v) tensors.set(`v.${name}`, t);
  const written = await writeSafetensors(join(dir, OPTIMIZER_FILE), tensors, { dtype: 'F32', metadata: { format: STATE_FORMAT } });
  const doc = { format: STATE_FORMAT, version: 1, step: state.step, rng: state.rng, extra: state.extra, optimizer: { file: OPTIMIZER_FILE, ...written } };
  await writeBytesAtomic(join(dir, STATE_FILE), canonicalJson(doc, 2));
}

/**
 * Loads what saveTrainingState wrote, verifying the optimizer file's size and sha256. Pass the model's weights as
 * `like` to also check that the moments match the parameters name for name and shape for shape.
 */
export async function loadTrainingState(dir: string, like?: Weights): Promise<TrainingState> {
  const path = join(dir, STATE_FILE);
  const doc = (await readJson(path)) as Record<string, any>;
  if (doc?.format !== STATE_FORMAT || doc.version !== 1) throw new Error(`${path}: not an ${STATE_FORMAT} v1 file (format ${JSON.stringify(doc?.format)}, version ${JSON.stringify(doc?.version)})`);
  if (!(Number.isSafeInteger(doc.step) && doc.step >= 0)) throw new Error(`${path}: field "step" must be a non-negative integer`);
  if (doc.extra === null || typeof doc.extra !== 'object' || Array.isArray(doc.extra)) throw new Error(`${path}: field "extra" must be an object`);
  let rng: RngState;
  try {
    rng = Rng.fromState(doc.rng).state();
  } catch (err) {
    throw new Error(`${path}: field "rng": ${(err as Error).message}`);
  }
  const opt = doc.optimizer;
  if (opt?.file !== OPTIMIZER_FILE || typeof opt.sha256 !== 'string' || !Number.isSafeInteger(opt.bytes)) {
    throw new Error(`${path}: field "optimizer" must be {file: "${OPTIMIZER_FILE}", bytes, sha256}`);
  }
  const optPath = join(dir, OPTIMIZER_FILE);
  const size = await stat(optPath).then((s) => s.size, () => -1);
  if (size !== opt.bytes) throw new Error(`${optPath}: ${size < 0 ? 'missing' : `${size} bytes`}, but ${STATE_FILE} records ${opt.bytes}`);
  const digest = await sha256File(optPath);
  if (digest !== opt.sha256) throw new Error(`${optPath}: sha256 ${digest} does not match ${STATE_FILE} (${opt.sha256}): optimizer state from another save`);

  const m: Weights = new Map();
  const v: Weights = new Map();
  for (const [key, t] of (await readSafetensors(optPath)).tensors) {
    const target = key.startsWith('m.') ? m : key.startsWith('v.') ? v : undefined;
    if (!target || t.dtype !== 'F32') throw new Error(`${optPath}: unexpected tensor "${key}" (${t.dtype}); expected F32 "m.<param>" / "v.<param>"`);
    target.set(key.slice(2), { shape: t.shape, data: t.data });
  }
  checkMoments(m, v, optPath, like);
  return { step: doc.step, optimizer: { m, v }, rng, extra: doc.extra };
}
