// The sampler under a multi-turn tool-using rollout: trajectories that alternate a generated turn and a tool call
// of random latency, run (a) as an asynchronous agent loop, each trajectory resuming as soon as its own tool
// returns (continuous batching), and (b) in lock step, every turn waiting for all trajectories' turns and tool
// calls (the generate / continue pattern). Both runs draw the same tokens (per-sequence seeds, and a sequence's
// tokens do not depend on its batch), so the ratio of wall times is the cost of lock step alone.
import type { Sampler } from '../../engine/sampler.ts';
import { Rng } from '../../engine/rng.ts';

export interface RolloutShape {
  /** Prompt groups and samples per group (a GRPO step's batch_size x n). */
  groups: number;
  samples: number;
  promptTokens: number;
  /** Tool turns per trajectory (each appended turn has toolTokens tokens). */
  turns: number;
  toolTokens: number;
  /** Each turn stops at a stop token (1 in 64 of the vocabulary) or after this many tokens. */
  maxTurnTokens: number;
  /** Tool latency, uniform in [min, max] ms, drawn per (trajectory, turn). */
  latencyMs: [number, number];
  /** Runs of each schedule, alternating which goes first (medians are reported). */
  repeats: number;
}

export interface RolloutTimes {
  asyncMs: number;
  lockStepMs: number;
  tokens: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Trajectory {
  prompt: number[];
  seed: string;
  latencies: number[];
  tools: number[][];
}

function trajectories(shape: RolloutShape, vocab: number): Trajectory[] {
  const rng = Rng.fromSeed(0, 'agent-loop bench');
  const ids = (n: number) => Array.from({ length: n }, () => Math.floor(rng.uniform() * vocab));
  return Array.from({ length: shape.groups }, (_, g) => {
    const prompt = ids(shape.promptTokens);
    return Array.from({ length: shape.samples }, (_, i) => ({
      prompt,
      seed: `0/0/${g}/${i}`,
      latencies: Array.from({ length: shape.turns }, () => shape.latencyMs[0] + rng.uniform() * (shape.latencyMs[1] - shape.latencyMs[0])),
      tools: Array.from({ length: shape.turns }, () => ids(shape.toolTokens)),
    }));
  }).flat();
}

/**
 * Runs both schedules on `sampler` `shape.repeats` times each, alternating which goes first (the machine's
 * load drifts), checks that every run drew the same tokens, and returns the median times.
 */
export async function rolloutCase(sampler: Sampler, vocab: number, shape: RolloutShape): Promise<RolloutTimes> {
  const all = trajectories(shape, vocab);
  const params = { temperature: 1, maxNewTokens: shape.maxTurnTokens, stopTokens: Array.from({ length: Math.ceil(vocab / 64) }, (_, k) => k * 64) };
  const run = async (lockStep: boolean): Promise<{ ms: number; tokens: number[][] }> => {
    const started = performance.now();
    const out = all.map((): number[] => []);
    if (lockStep) {
      const first = await Promise.all(all.map((t) => sampler.start(t.prompt, { ...params, seed: t.seed })));
      first.forEach((g, i) => out[i].push(...g.tokens));
      for (let turn = 0; turn < shape.turns; turn++) {
        await Promise.all(all.map((t) => sleep(t.latencies[turn])));
        const next = await Promise.all(all.map((t, i) => sampler.resume(first[i].seqId, t.tools[turn], params)));
        next.forEach((g, i) => out[i].push(...g.tokens));
      }
      await sampler.release(first.map((g) => g.seqId));
    } else {
      await Promise.all(
        all.map(async (t, i) => {
          const g = await sampler.start(t.prompt, { ...params, seed: t.seed });
          out[i].push(...g.tokens);
          for (let turn = 0; turn < shape.turns; turn++) {
            await sleep(t.latencies[turn]);
            out[i].push(...(await sampler.resume(g.seqId, t.tools[turn], params)).tokens);
          }
          await sampler.release([g.seqId]);
        }),
      );
    }
    return { ms: performance.now() - started, tokens: out };
  };
  // Warm-up: the first runs of the prefill and decode programs load them.
  const warm = await sampler.start(all[0].prompt, { ...params, seed: 'warm-up' });
  await sampler.resume(warm.seqId, all[0].tools[0], params);
  await sampler.release([warm.seqId]);
  const times = { async: [] as number[], lock: [] as number[] };
  let drawn: string | null = null;
  for (let i = 0; i < shape.repeats; i++) {
    for (const lockStep of i % 2 === 0 ? [false, true] : [true, false]) {
      const r = await run(lockStep);
      (lockStep ? times.lock : times.async).push(r.ms);
      drawn ??= JSON.stringify(r.tokens);
      if (JSON.stringify(r.tokens) !== drawn) throw new Error('agent-loop bench: two runs drew different tokens');
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const tokens = (JSON.parse(drawn!) as number[][]).reduce((n, t) => n + t.length, 0);
  return { asyncMs: median(times.async), lockStepMs: median(times.lock), tokens };
}
