// What the agent loop needs from a policy: start a sequence from its prompt and generate one turn, resume it with
// appended tool-turn ids and generate the next, release it. Each call resolves when its own sequence stops, so a
// trajectory waiting for its tool never holds up the others (the engine's continuously batched sampler serves
// this interface directly). SerialSamplerPolicy adapts today's Sampler, whose concurrent generate()/continue()
// calls would corrupt each other's tokens: it runs one call at a time, correct but without cross-trajectory
// batching.
import type { Sampler } from '../engine/sampler.ts';

export interface TurnParams {
  maxNewTokens: number;
  temperature: number;
  topP?: number;
  topK?: number;
  /** Generation stops after one of these (kept in the output): the end-of-turn token. */
  stopTokens: number[];
}

export interface PolicyTurn {
  seqId: number;
  tokens: number[];
  /** The policy's log-prob of each token (temperature 1, untruncated). */
  logprobs: number[];
  finishReason: 'stop' | 'length';
}

export interface PolicyClient {
  /** A new sequence seeded with `seed` (its sampling stream continues across resume calls). */
  start(promptIds: number[], params: TurnParams & { seed: number }): Promise<PolicyTurn>;
  resume(seqId: number, appendIds: number[], params: TurnParams): Promise<PolicyTurn>;
  release(seqId: number): Promise<void>;
}

/** One Sampler call at a time, in call order. */
export class SerialSamplerPolicy implements PolicyClient {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly sampler: Sampler) {}

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  start(promptIds: number[], params: TurnParams & { seed: number }): Promise<PolicyTurn> {
    return this.exclusive(async () => (await this.sampler.generate([promptIds], params))[0]);
  }

  resume(seqId: number, appendIds: number[], params: TurnParams): Promise<PolicyTurn> {
    return this.exclusive(async () => {
      this.sampler.extend(seqId, appendIds);
      return (await this.sampler.continue([seqId], params))[0];
    });
  }

  release(seqId: number): Promise<void> {
    return this.exclusive(() => this.sampler.release([seqId]));
  }
}
