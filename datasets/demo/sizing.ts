// Sizing experiment for the demo model (the numbers in docs/demo.md come from it): writes demo data and a demo
// model of the given shape to a scratch directory, runs SFT on the engine's Learner with the SFT stage's own
// epoch loop, then runs the held-out problems through the real agent loop (greedy, real sandbox) and scores them
// with the GRPO reward. Prints the loss curve, the tool-call rate, how often the tool output was the right one,
// and how often the final answer was right (also among the rows whose tool output was right).
// CLI: node --import tsx datasets/demo/sizing.ts --out DIR [--train-per-source N] [--epochs N] [--batch N] [--lr X]
//      [--val-per-source N] [--hidden N --ffn N --layers N --heads N --kv-heads N --head-dim N --rope X]
//      or --trained DIR to evaluate a trained Hugging Face directory (e.g. an SFT stage's sft/model) without SFT.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { responseTextForReward, runTrajectory, SamplerPolicy, ToolRunner } from '../../agent/index.ts';
import { loadChatModel } from '../../chat/index.ts';
import type { ChatMessage } from '../../chat/index.ts';
import { Learner } from '../../engine/learner.ts';
import { Sampler } from '../../engine/sampler.ts';
import { scoreTrajectory } from '../../rewards/score.ts';
import { createLocalSandbox } from '../../sandbox/index.ts';
import { grpoSectionSchema, rewardSettingsOf } from '../../schemas/grpo.ts';
import { loadBaseModel, readTokenRows, rowDigest, tokenizeSftFiles, trainEpoch } from '../../training/index.ts';
import { writeDemoData } from './generate.ts';
import { abilityOf, demoGroundTruth } from './ground-truth.ts';
import { DEMO_MODEL_SHAPE, writeDemoModel } from './model-files.ts';
import { sftMessages } from './traces.ts';

interface Tally {
  n: number;
  called: number;
  outputRight: number;
  correct: number;
  correctWithRightOutput: number;
}

async function main(args: Map<string, string>): Promise<void> {
  const num = (k: string, d: number): number => Number(args.get(k) ?? d);
  const out = args.get('out') ?? '.state/demo-sizing';
  const s = DEMO_MODEL_SHAPE;
  const shape = {
    vocabSize: num('vocab', s.vocabSize), hiddenSize: num('hidden', s.hiddenSize), intermediateSize: num('ffn', s.intermediateSize), layers: num('layers', s.layers),
    heads: num('heads', s.heads), kvHeads: num('kv-heads', s.kvHeads), headDim: num('head-dim', s.headDim), ropeTheta: num('rope', s.ropeTheta),
  };
  const epochs = num('epochs', 1);
  const t0 = performance.now();
  const data = await writeDemoData(join(out, 'data'), { seed: 1, sizes: { rlPerSource: 1, sftTrainPerSource: num('train-per-source', 480), sftValPerSource: num('val-per-source', 16), sftGuessed: num('guessed', 0) } });
  await writeDemoModel(join(out, 'model'), { templatePath: 'recipes/models/demo/chat_template.jinja', renderDir: 'recipes/models/tiny', shape });
  const tok = await tokenizeSftFiles({ files: [data.sftTrain], tokenizerDir: join(out, 'model'), maxLength: 512, multiTurn: 'whole' });
  await writeFile(join(out, 'tokens.arrow'), tok.ipc);
  const rows = await readTokenRows(join(out, 'tokens.arrow'));
  const trained = args.get('trained');
  const base = trained ? await loadBaseModel(trained) : await loadBaseModel(join(out, 'model'), 1);
  let params = 0;
  for (const [, t] of base.weights) params += t.data.length;
  console.log(`shape ${JSON.stringify(shape)} params ${params}; ${rows.length} rows, ${tok.tokens} tokens (${tok.trainedTokens} trained); prep ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const learner = await Learner.create(base.config, base.weights, { optimizer: { beta1: 0.9, beta2: 0.95, weightDecay: 0.01, maxGradNorm: 1.0 } });
  const hyper = { epochs, batchSize: num('batch', 4), lr: num('lr', 3e-3), schedule: { kind: 'cosine' as const, warmup_ratio: 0.05 }, saveEverySteps: Number.MAX_SAFE_INTEGER, microBatchTokens: 8192, seed: 1 };
  const digests = rows.map(rowDigest);
  const losses: number[] = [];
  const tTrain = performance.now();
  let from = { epoch: 0, batch: 0 };
  for (let epoch = 0; epoch < (trained ? 0 : epochs); epoch++) {
    from = await trainEpoch({
      learner, rows, digests, hyper, epoch, from, checkpoint: async () => undefined,
      onStep: async (m) => {
        losses.push(m.loss);
        if (m.step % 50 === 0) console.log(`step ${m.step} loss ${m.loss.toFixed(3)} lr ${m.lr.toExponential(1)} ${((performance.now() - tTrain) / 1000).toFixed(0)} s`);
      },
    });
  }
  const sftSeconds = (performance.now() - tTrain) / 1000;
  if (losses.length === 0) losses.push(Number.NaN);
  const tail = losses.slice(-10).reduce((a, b) => a + b, 0) / Math.min(10, losses.length);
  console.log(`SFT ${losses.length} steps in ${sftSeconds.toFixed(0)} s: first loss ${losses[0].toFixed(3)}, mean of the last 10 ${tail.toFixed(3)} (${((100 * tail) / losses[0]).toFixed(1)}% of the first)`);

  const chat = loadChatModel(trained ?? join(out, 'model'));
  const sampler = await Sampler.create(base.config, { device: learner.device, prefix: learner.prefix });
  const sandbox = createLocalSandbox({ poolSize: 2 });
  try {
    const tools = new ToolRunner({ sandbox, concurrency: 2, timeoutMs: 5000, memoryMb: 512, outputChars: 256 });
    const settings = { maxTurns: 3, maxPromptLength: 512, maxResponseLength: 384, temperature: 0, topP: 1 };
    const rewards = rewardSettingsOf(grpoSectionSchema.parse({ max_response_length: 384, reward: { overlong: { buffer: 128 } } }));
    const tEval = performance.now();
    const val = data.splits.val;
    // One policy for every trajectory: the sampler batches their concurrent calls.
    const policy = new SamplerPolicy(sampler);
    const records = await Promise.all(val.map((p, i) => runTrajectory(
      { run: 'sizing', step: 0, promptUid: `val-${i}`, sampleIndex: 0, dataSource: p.source, ability: abilityOf(p), validation: true, seed: 1, messages: [sftMessages(p, i)[0] as ChatMessage] },
      { tok: chat, policy, tools, settings },
    )));
    const tallies = new Map<string, Tally>();
    for (const [i, p] of val.entries()) {
      const r = records[i];
      const score = await scoreTrajectory(
        { uid: `val-${i}`, dataSource: p.source, ability: abilityOf(p), groundTruth: demoGroundTruth(p), responseText: responseTextForReward(chat, r.responseIds), toolRounds: r.toolRounds, responseLength: r.responseLength },
        { settings: rewards, sandbox, codeTimeoutMs: 5000, codeMemoryMb: 512 },
      );
      const t = tallies.get(p.source) ?? { n: 0, called: 0, outputRight: 0, correct: 0, correctWithRightOutput: 0 };
      const outputRight = r.toolRounds > 0 && r.turns[0].toolOutput.join('') === p.output;
      t.n++;
      t.called += r.toolRounds > 0 ? 1 : 0;
      t.outputRight += outputRight ? 1 : 0;
      t.correct += score.correct ? 1 : 0;
      t.correctWithRightOutput += score.correct && outputRight ? 1 : 0;
      tallies.set(p.source, t);
    }
    const all = [...tallies.values()].reduce((a, b) => ({ n: a.n + b.n, called: a.called + b.called, outputRight: a.outputRight + b.outputRight, correct: a.correct + b.correct, correctWithRightOutput: a.correctWithRightOutput + b.correctWithRightOutput }));
    for (const [source, t] of tallies) console.log(`  ${source}: ${JSON.stringify(t)}`);
    const pct = (a: number, b: number): string => `${((100 * a) / Math.max(1, b)).toFixed(0)}%`;
    console.log(`held-out ${all.n}: tool called ${pct(all.called, all.n)}, tool output right ${pct(all.outputRight, all.n)}, answer right ${pct(all.correct, all.n)}, answer right when the output was ${pct(all.correctWithRightOutput, all.outputRight)} (${all.outputRight} rows); eval ${((performance.now() - tEval) / 1000).toFixed(0)} s`);
  } finally {
    await sampler.close();
    await sandbox.close();
  }
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const args = new Map<string, string>();
  for (let i = 0; i + 1 < argv.length; i += 2) args.set(argv[i].replace(/^--/u, ''), argv[i + 1]);
  await mkdir(args.get('out') ?? '.state/demo-sizing', { recursive: true });
  await main(args);
  process.exit(0);
}
