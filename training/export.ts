// Writes a trained model as a Hugging Face directory that transformers loads as it is: config.json and
// model.safetensors (the base model's dtype where the engine writes it, else f32), tokenizer.json,
// tokenizer_config.json with the chat template in its chat_template field, and generation_config.json.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import { loadChatModel } from '../chat/index.ts';
import { saveCheckpoint } from '../engine/checkpoint.ts';
import type { Qwen3Config } from '../engine/config.ts';
import type { Weights } from '../engine/tensors.ts';

export interface ExportInput {
  outDir: string;
  config: Qwen3Config;
  /** The base model's config.json (its token ids and other fields are kept). */
  rawConfig: Record<string, unknown>;
  weights: Weights;
  dtype: 'f32' | 'bf16';
  /** The base model directory: its tokenizer files and chat template are exported with the weights. */
  tokenizerDir: string;
}

export interface ExportedFile {
  name: string;
  bytes: number;
  sha256: string;
}

function tokenId(tokenizerJson: Record<string, any>, content: string | undefined): number | undefined {
  if (content === undefined) return undefined;
  const added = (tokenizerJson.added_tokens as { id: number; content: string }[] | undefined)?.find((t) => t.content === content);
  return added?.id ?? (tokenizerJson.model?.vocab?.[content] as number | undefined);
}

export async function exportHfModel(input: ExportInput): Promise<ExportedFile[]> {
  await mkdir(input.outDir, { recursive: true });
  const chat = loadChatModel(input.tokenizerDir);
  const files = chat.files;
  const eosId = tokenId(files.tokenizerJson, files.eosToken);
  const padId = tokenId(files.tokenizerJson, files.specialTokenStrings.pad_token);
  const bosId = tokenId(files.tokenizerJson, files.specialTokenStrings.bos_token);
  const rawConfig = { ...input.rawConfig };
  if (rawConfig.eos_token_id === undefined && eosId !== undefined) rawConfig.eos_token_id = eosId;
  const written = await saveCheckpoint(input.outDir, { config: input.config, weights: input.weights, dtype: input.dtype, rawConfig });
  const out: ExportedFile[] = [...written.files];

  const put = async (name: string, text: string) => out.push({ name, ...(await writeBytesAtomic(join(input.outDir, name), text)) });
  await put('tokenizer.json', await readFile(join(input.tokenizerDir, 'tokenizer.json'), 'utf8'));
  // One home for the template: tokenizer_config.json's chat_template, whichever file the base kept it in.
  const tokenizerConfig = { ...files.tokenizerConfig, chat_template: files.chatTemplate };
  await put('tokenizer_config.json', JSON.stringify(tokenizerConfig, null, 2) + '\n');
  const baseGeneration = join(input.tokenizerDir, 'generation_config.json');
  const generation = existsSync(baseGeneration)
    ? JSON.parse(await readFile(baseGeneration, 'utf8'))
    : Object.fromEntries(Object.entries({ bos_token_id: bosId, eos_token_id: eosId, pad_token_id: padId }).filter(([, v]) => v !== undefined));
  await put('generation_config.json', JSON.stringify(generation, null, 2) + '\n');
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
