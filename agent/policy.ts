// What the agent loop needs from a policy: start a sequence from its prompt and generate one turn, resume it with
// appended tool-turn ids and generate the next, release it. Each call resolves when its own sequence stops, so a
// trajectory waiting for its tool never holds up the others. SamplerPolicy serves it from the engine's
// continuously batched sampler: whatever sequences are ready share each decode step, and a sequence's tokens do
// not depend on which others run beside it (engine/sampler.ts), so rollouts stay reproducible from their seeds.
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

export class SamplerPolicy implements PolicyClient {
  constructor(private readonly sampler: Sampler) {}

  start(promptIds: number[], params: TurnParams & { seed: number }): Promise<PolicyTurn> {
    return this.sampler.start(promptIds, params);
  }

  resume(seqId: number, appendIds: number[], params: TurnParams): Promise<PolicyTurn> {
    return this.sampler.resume(seqId, appendIds, params);
  }

  release(seqId: number): Promise<void> {
    return this.sampler.release([seqId]);
  }
}
