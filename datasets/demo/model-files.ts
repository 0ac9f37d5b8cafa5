// The demo model's directory (recipes/models/demo): config.json for a small Qwen3-architecture model without
// weights (model.init_seed initialises them), its chat template (committed there), and a tokenizer trained by
// the repo's tiny tokenizer builder on the demo's own traffic: conversations of the demo families rendered with
// that template, so the role headers, the tool schema, the tool-call JSON and the programs compress well.
// CLI (from the repository root): node --import tsx datasets/demo/model-files.ts [outDir]
import { readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
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
  ropeTheta: number;
}

export const DEMO_MODEL_SHAPE: DemoModelShape = { vocabSize: 1024, hiddenSize: 64, intermediateSize: 192, layers: 2, heads: 4, kvHeads: 2, headDim: 32, ropeTheta: 10000 };

/** Conversations rendered per source for the tokenizer corpus (a stream of its own: no split's problems). */
const CORPUS_PER_SOURCE = 120;

/**
 * The corpus: demo conversations rendered with `templatePath`. Rendering needs some tokenizer files beside the
 * template; `renderDir` (the tiny model's) lends them, since only the rendered text is used.
 */
export function demoTokenizerCorpus(templatePath: string, renderDir: string, seed: number): string {
  const chat = loadChatModel(renderDir, { chatTemplate: readFileSync(templatePath, 'utf8'), chatTemplateName: templatePath });
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
    rope_theta: shape.ropeTheta,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
    use_sliding_window: false,
    vocab_size: shape.vocabSize,
  };
}

export interface DemoModelOptions {
  /** The chat template (recipes/models/demo/chat_template.jinja); copied to outDir when it lives elsewhere. */
  templatePath: string;
  /** A model directory whose tokenizer files render the corpus (recipes/models/tiny). */
  renderDir: string;
  seed?: number;
  shape?: DemoModelShape;
}

/**
 * Writes config.json, tokenizer.json and tokenizer_config.json (and the chat template) to `outDir`.
 * Deterministic: the same (template, shape, seed) gives the same bytes.
 */
export async function writeDemoModel(outDir: string, opts: DemoModelOptions): Promise<void> {
  const shape = opts.shape ?? DEMO_MODEL_SHAPE;
  const corpus = demoTokenizerCorpus(opts.templatePath, opts.renderDir, opts.seed ?? 1);
  const { tokenizerJson, tokenizerConfigJson } = buildTinyTokenizer(corpus, shape.vocabSize);
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), `${JSON.stringify(demoConfig(shape), null, 2)}\n`);
  await writeFile(join(outDir, 'tokenizer.json'), tokenizerJson);
  await writeFile(join(outDir, 'tokenizer_config.json'), tokenizerConfigJson);
  const template = join(outDir, 'chat_template.jinja');
  if (resolve(opts.templatePath) !== resolve(template)) await copyFile(opts.templatePath, template);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const outDir = process.argv[2] ?? join('recipes', 'models', 'demo');
  await writeDemoModel(outDir, { templatePath: join('recipes', 'models', 'demo', 'chat_template.jinja'), renderDir: join('recipes', 'models', 'tiny') });
  console.log(`wrote ${outDir}/config.json, tokenizer.json and tokenizer_config.json (${DEMO_MODEL_SHAPE.vocabSize} ids)`);
}
