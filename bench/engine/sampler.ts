// What a GRPO rollout asks of the sampler, each against its baseline in the same invocation:
// - the tail of a group: one live sequence among 8 cached ones, against all 8 live and against a sampler that
//   holds that one sequence alone (what the step costs when nothing idle is fed);
// - a group's prefill: one prompt 8 times (prefilled once, cache rows copied), against 8 distinct prompts;
// - a long group: 8 sequences decoding 2,048 tokens after a 256-token prompt, per token (cache growth and
//   re-layouts included).
// - a multi-turn tool rollout (agent-loop.ts): trajectories resumed as soon as their own tool returns
//   (continuous batching) against the same trajectories in lock step (every turn waits for all).
// Greedy decoding (the rollout: temperature 1), 2 threads, device malloc settings.
//
//   node --import tsx bench/engine/sampler.ts [--models tiny,qwen3-0.6b] [--cases steps,rollout]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { Device } from '../../engine/runtime/device.ts';
import { hasDeviceMalloc, withDeviceMalloc } from '../../engine/runtime/malloc.ts';
import { Sampler } from '../../engine/sampler.ts';
import { rolloutCase } from './agent-loop.ts';
import type { RolloutShape } from './agent-loop.ts';

if (!hasDeviceMalloc()) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: withDeviceMalloc() });
  process.exit(r.status ?? 1);
}

const ROOT = new URL('../../', import.meta.url).pathname;
const flag = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const configs: Record<string, { config: Qwen3Config; cached: number; prompt: number; long: number; rollout: RolloutShape[] }> = {
  tiny: {
    config: parseQwen3Config(JSON.parse(readFileSync(`${ROOT}recipes/models/tiny/config.json`, 'utf8'))),
    cached: 1024,
    prompt: 1024,
    long: 2048,
    rollout: [
      { groups: 2, samples: 8, promptTokens: 256, turns: 3, toolTokens: 32, maxTurnTokens: 128, latencyMs: [20, 400], repeats: 3 },
      { groups: 2, samples: 8, promptTokens: 256, turns: 3, toolTokens: 32, maxTurnTokens: 128, latencyMs: [50, 2000], repeats: 3 },
    ],
  },
  'qwen3-0.6b': {
    config: { hiddenSize: 1024, numHiddenLayers: 2, numAttentionHeads: 16, numKeyValueHeads: 8, headDim: 128, intermediateSize: 3072, vocabSize: 151936, ropeTheta: 1e6, rmsNormEps: 1e-6, tieWordEmbeddings: true, maxPositionEmbeddings: 40960 },
    cached: 512,
    prompt: 512,
    long: 256,
    rollout: [{ groups: 1, samples: 8, promptTokens: 256, turns: 2, toolTokens: 32, maxTurnTokens: 64, latencyMs: [100, 2000], repeats: 2 }],
  },
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const tokens = (n: number, salt: number, vocab: number) => Array.from({ length: n }, (_, t) => (t * 7919 + salt * 104729) % vocab);

/** Median decode-step ms of `steps` greedy tokens for the sequences `ids`. */
async function decodeSteps(sampler: Sampler, ids: number[], steps: number): Promise<number> {
  const ms: number[] = [];
  sampler.onStep = (info) => ms.push(info.ms);
  await sampler.continue(ids, { temperature: 0, maxNewTokens: steps });
  return median(ms);
}

const device = new Device({ threads: 2 });
const models = flag('models', 'tiny,qwen3-0.6b').split(',');
const cases = flag('cases', 'steps,rollout').split(',');
if (cases.includes('steps')) {
  console.log('| model | 1 live of 8 cached, ms a step | 8 live of 8 | ratio | 1 sequence alone | ratio | prefill, 8 distinct prompts, ms | one prompt x 8 | speed-up | 8 x long decode, ms a token |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const name of models) {
    const { config, cached, prompt, long } = configs[name];
    const weights = initWeights(config, 0);
    const v = config.vocabSize;
    const sampler = await Sampler.create(config, { device, weights });
    // The group's tail.
    const gens = await sampler.generate(Array.from({ length: 8 }, (_, r) => tokens(cached, r, v)), { temperature: 0, maxNewTokens: 1, seed: 0 });
    const ids = gens.map((g) => g.seqId);
    await decodeSteps(sampler, ids, 4); // warm-up of the decode program
    const all = await decodeSteps(sampler, ids, 16);
    const one = await decodeSteps(sampler, [ids[3]], 16);
    await sampler.release(ids);
    const [alone] = await sampler.generate([tokens(cached, 3, v)], { temperature: 0, maxNewTokens: 1, seed: 0 });
    await decodeSteps(sampler, [alone.seqId], 4);
    const single = await decodeSteps(sampler, [alone.seqId], 16);
    await sampler.release([alone.seqId]);
    // A group's prefill, median of 3 after a warm-up each.
    const prefill = async (prompts: number[][]) => {
      const ms: number[] = [];
      for (let i = 0; i < 4; i++) {
        // With one new token every run is the prefill (long prompts go one by one): a generate's time is their sum.
        let total = 0;
        sampler.onStep = (info) => void (total += info.ms);
        const g = await sampler.generate(prompts, { temperature: 0, maxNewTokens: 1, seed: 0 });
        await sampler.release(g.map((x) => x.seqId));
        if (i > 0) ms.push(total);
      }
      return median(ms);
    };
    const distinct = await prefill(Array.from({ length: 8 }, (_, r) => tokens(prompt, r, v)));
    const group = await prefill(Array.from({ length: 8 }, () => tokens(prompt, 0, v)));
    // A long group: per token over the whole generation.
    const started = performance.now();
    const longGen = await sampler.generate(Array.from({ length: 8 }, (_, r) => tokens(256, r, v)), { temperature: 1, maxNewTokens: long, seed: 1 });
    const perToken = (performance.now() - started) / long;
    await sampler.release(longGen.map((g) => g.seqId));
    await sampler.close();
    const f = (x: number, d = 1) => x.toFixed(d);
    console.log(`| ${name} (${cached} cached / ${prompt}-token prompts / ${long} new) | ${f(one, 2)} | ${f(all, 2)} | ${f(one / all, 2)} | ${f(single, 2)} | ${f(one / single, 2)} | ${f(distinct)} | ${f(group)} | ${f(distinct / group)}x | ${f(perToken, 2)} |`);
  }
}
if (cases.includes('rollout')) {
  console.log('\n| model | trajectories x tool turns | tokens generated | asynchronous agent loop, s (median) | lock step, s (median) | speed-up |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const name of models) {
    const { config, rollout } = configs[name];
    const sampler = await Sampler.create(config, { device, weights: initWeights(config, 0) });
    for (const r of rollout) {
      const t = await rolloutCase(sampler, config.vocabSize, r);
      const shape = `${r.groups * r.samples} x ${r.turns} (latency ${r.latencyMs.join('-')} ms)`;
      console.log(`| ${name} | ${shape} | ${t.tokens} | ${(t.asyncMs / 1000).toFixed(2)} | ${(t.lockStepMs / 1000).toFixed(2)} | ${(t.lockStepMs / t.asyncMs).toFixed(2)}x |`);
    }
    await sampler.close();
  }
}
await device.close();
