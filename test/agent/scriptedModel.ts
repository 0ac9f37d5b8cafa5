// A tiny Qwen3 model taught, by SFT on the real learner, to write given multi-turn trajectories: greedy decoding
// then reproduces each script's assistant turns, so the agent loop can be driven through tool calls, malformed
// calls, time-outs, the turn cap and the budget with the real sampler and the real sandbox (a model with random
// weights never writes a tool call). Tool outputs in the scripts come from the real tool runner, so what the
// model was taught to follow is exactly what the sandbox answers at test time. Deterministic (fixed seeds).
import { CODE_INTERPRETER_TOOL, RolloutBuilder } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer } from '../../chat/index.ts';
import { readQwen3Config } from '../../engine/config.ts';
import type { Qwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import type { Weights } from '../../engine/tensors.ts';

export const TINY_DIR = new URL('../../recipes/models/tiny/', import.meta.url).pathname;

export interface ScriptTurn {
  /** The assistant turn's text (the end-of-turn token is added). */
  text: string;
  /** Code the turn's call runs, to produce the tool output the script continues from (none: final turn). */
  toolOutput?: () => Promise<string>;
}

export interface Script {
  messages: ChatMessage[];
  turns: ScriptTurn[];
}

export function callText(code: string): string {
  return `<tool_call>\n${JSON.stringify({ name: 'code_interpreter', arguments: { code } })}\n</tool_call>`;
}

async function scriptIds(tok: ChatTokenizer, s: Script): Promise<{ ids: number[]; mask: number[] }> {
  const b = RolloutBuilder.fromPrompt(tok, s.messages, [CODE_INTERPRETER_TOOL]);
  for (const turn of s.turns) {
    b.appendGenerated([...tok.encode(turn.text), tok.endOfTurnId]);
    if (turn.toolOutput) b.appendToolResult(await turn.toolOutput());
  }
  return { ids: [...b.ids], mask: [...b.mask] };
}

/** Weights of the tiny model after teaching it the scripts (until the loss is ~0). */
export async function scriptedTinyModel(tok: ChatTokenizer, scripts: Script[]): Promise<{ config: Qwen3Config; weights: Weights }> {
  const { config } = await readQwen3Config(`${TINY_DIR}config.json`);
  const rows = await Promise.all(scripts.map((s) => scriptIds(tok, s)));
  const learner = await Learner.create(config, initWeights(config, 7), { seed: 7, optimizer: { weightDecay: 0 } });
  try {
    const batch = {
      inputIds: rows.map((r) => r.ids),
      // Position t predicts token t + 1: trained where that token was generated.
      lossMask: rows.map((r) => r.ids.map((_, t) => (t + 1 < r.mask.length ? r.mask[t + 1] : 0))),
    };
    let loss = Infinity;
    for (let step = 0; step < 1500 && loss > 2e-3; step++) {
      loss = (await learner.trainStep([batch], { kind: 'sft' }, step < 400 ? 1e-2 : 3e-3)).loss;
    }
    if (loss > 2e-3) throw new Error(`scriptedTinyModel: the scripts were not learned (loss ${loss})`);
    return { config, weights: await learner.weights() };
  } finally {
    await learner.close();
  }
}
