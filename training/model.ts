// A base model as a training stage receives it: a Hugging Face directory (config.json, model.safetensors or
// shards + index, f32/bf16/f16) or, for a directory without weights, a seeded fresh initialisation. The chat
// files (tokenizer.json, tokenizer_config.json, the template) are read by the chat layer, which checks them.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadCheckpoint } from '../engine/checkpoint.ts';
import { readQwen3Config } from '../engine/config.ts';
import type { Qwen3Config } from '../engine/config.ts';
import { initWeights } from '../engine/init.ts';
import { readSafetensorsHeader } from '../engine/safetensors.ts';
import type { Weights } from '../engine/tensors.ts';
import { TrainingInputError } from './errors.ts';

/** The on-disk float type of the base weights ('init' for a seeded initialisation). */
export type BaseDtype = 'f32' | 'bf16' | 'f16' | 'init';

export interface BaseModel {
  dir: string;
  config: Qwen3Config;
  rawConfig: Record<string, unknown>;
  weights: Weights;
  dtype: BaseDtype;
  /** The weight files read (empty for a seeded initialisation). */
  files: string[];
}

async function weightFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => {
    throw new TrainingInputError(`model directory ${dir} not found`);
  });
  return names.filter((n) => n.endsWith('.safetensors') || n === 'model.safetensors.index.json').sort();
}

async function dtypeOf(dir: string, files: string[]): Promise<'f32' | 'bf16' | 'f16'> {
  const first = files.find((f) => f.endsWith('.safetensors'));
  if (!first) throw new TrainingInputError(`${dir}: no *.safetensors file`);
  const header = await readSafetensorsHeader(join(dir, first));
  const kinds = new Set(header.tensors.map((t) => t.dtype));
  if (kinds.size !== 1) throw new TrainingInputError(`${join(dir, first)}: mixed dtypes ${[...kinds].join(', ')}`);
  return ({ F32: 'f32', BF16: 'bf16', F16: 'f16' } as const)[[...kinds][0]];
}

/**
 * Loads `dir`. A directory without weight files needs `initSeed` (recipe `model.init_seed`); a directory with
 * weights refuses one, since it would be ignored.
 */
export async function loadBaseModel(dir: string, initSeed?: number): Promise<BaseModel> {
  if (!existsSync(join(dir, 'config.json'))) throw new TrainingInputError(`${dir}: no config.json (model.path must be a Hugging Face model directory)`);
  const files = await weightFiles(dir);
  if (files.length === 0) {
    if (initSeed === undefined) throw new TrainingInputError(`${dir} has no *.safetensors weights: set model.init_seed for a seeded fresh initialisation`);
    const { config, raw } = await readQwen3Config(join(dir, 'config.json')).catch(asInputError);
    return { dir, config, rawConfig: raw, weights: initWeights(config, initSeed), dtype: 'init', files: [] };
  }
  if (initSeed !== undefined) throw new TrainingInputError(`${dir} has weights (${files[0]}, ...): model.init_seed applies only to a directory without weights`);
  const dtype = await dtypeOf(dir, files);
  const ckpt = await loadCheckpoint(dir).catch(asInputError);
  return { dir, config: ckpt.config, rawConfig: ckpt.rawConfig, weights: ckpt.weights, dtype, files: files.map((f) => join(dir, f)) };
}

/** The dtype an export writes: the base's own where the engine can write it (f32, bf16), else f32. */
export function exportDtype(base: BaseDtype): 'f32' | 'bf16' {
  return base === 'bf16' ? 'bf16' : 'f32';
}

function asInputError(err: Error): never {
  throw new TrainingInputError(err.message);
}
