// The demo model's directory (recipes/models/demo): config.json for a small Qwen3-architecture model without
// weights (model.init_seed initialises them), the tiny model's chat template, and a tokenizer trained by the
// repo's tiny tokenizer builder on the demo's own traffic: conversations of the demo families rendered with
// that template, so the role headers, the tool schema, the tool-call JSON and the programs compress well.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadChatModel } from '../../chat/chatTokenizer.ts';
import { CODE_INTERPRETER_TOOL } from '../../chat/types.ts';
import type { ChatMessage } from '../../chat/types.ts';
import { buildTinyTokenizer } from '../../chat/tinyTokenizer/build.ts';
import { Rng } from '../../engine/rng.ts';
import { DEMO_SOURCES, drawProblems } from './families.ts';
import { sftMessages } from './traces.ts';

/** The demo model's shape (Qwen3 config.json fields); see docs/demo.md for how it was sized. */
export interface DemoModelShape {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

export const DEMO_MODEL_SHAPE: DemoModelShape = { vocabSize: 1024, hiddenSize: 128, intermediateSize: 384, layers: 4, heads: 4, kvHeads: 2, headDim: 32 };

/** Conversations rendered per source for the tokenizer corpus (a stream of its own: no split's problems). */
const CORPUS_PER_SOURCE = 120;

export function demoTokenizerCorpus(templateDir: string, seed: number): string {
  const chat = loadChatModel(templateDir);
  const parts: string[] = [];
  for (const source of DEMO_SOURCES) {
    const problems = drawProblems(Rng.fromSeed(seed, `demo corpus ${source}`), source, CORPUS_PER_SOURCE, new Set());
    problems.forEach((p, i) => parts.push(chat.render(sftMessages(p, i) as unknown as ChatMessage[], { tools: [CODE_INTERPRETER_TOOL] })));
  }
  return parts.join('\n');
}

export function demoConfig(shape: DemoModelShape): Record<string, unknown> {
  return {
    architectures: ['Qwen3ForCausalLM'],
    attention_bias: false,
    head_dim: shape.headDim,
    hidden_act: 'silu',
    hidden_size: shape.hiddenSize,
    intermediate_size: shape.intermediateSize,
    max_position_embeddings: 4096,
    model_type: 'qwen3',
    num_attention_heads: shape.heads,
    num_hidden_layers: shape.layers,
    num_key_value_heads: shape.kvHeads,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000.0,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_sliding_window: false,
    vocab_size: shape.vocabSize,
  };
}

/**
 * Writes config.json, tokenizer.json, tokenizer_config.json and chat_template.jinja (copied from `templateDir`)
 * to `outDir`. Deterministic: the same (shape, seed) gives the same bytes.
 */
export async function writeDemoModel(outDir: string, opts: { templateDir: string; seed?: number; shape?: DemoModelShape }): Promise<void> {
  const shape = opts.shape ?? DEMO_MODEL_SHAPE;
  const corpus = demoTokenizerCorpus(opts.templateDir, opts.seed ?? 1);
  const { tokenizerJson, tokenizerConfigJson } = buildTinyTokenizer(corpus, shape.vocabSize);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), `${JSON.stringify(demoConfig(shape), null, 2)}\n`);
  await writeFile(join(outDir, 'tokenizer.json'), tokenizerJson);
  await writeFile(join(outDir, 'tokenizer_config.json'), tokenizerConfigJson);
  await copyFile(join(opts.templateDir, 'chat_template.jinja'), join(outDir, 'chat_template.jinja'));
}
