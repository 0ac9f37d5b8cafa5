// The multi-turn agent loop of one trajectory (recipe.md section 4): generate a turn -> parse its Hermes tool
// calls -> run the first call in the sandbox -> append the tool turn (mask 0) -> continue, until a turn has no
// call, the turn cap (a call in the max_turns-th turn is never executed), or the response budget (a generation is
// capped at what is left; a tool turn that would exceed it is not appended). Malformed calls get their error text
// as the tool response and are counted; nothing the model writes crashes the loop. The result is an unscored
// trajectory record.
import { canonicalJson } from '../core/canonical-json.ts';
import { codeFromArguments, parseToolCalls, RolloutBuilder, CODE_INTERPRETER_TOOL } from '../chat/index.ts';
import type { ChatMessage, ChatTokenizer, ParsedTurn } from '../chat/index.ts';
import { UNSCORED } from '../schemas/trajectory.ts';
import type { FinishReason, TrajectoryIdentity, TrajectoryRecord, TurnRecord } from '../schemas/trajectory.ts';
import type { PolicyClient, PolicyTurn, TurnParams } from './policy.ts';
import { trajectorySeed } from './seed.ts';
import type { ToolRunner } from './toolRunner.ts';

export interface AgentSettings {
  maxTurns: number;
  maxPromptLength: number;
  /** Model AND tool tokens after the prompt. */
  maxResponseLength: number;
  temperature: number;
  topP: number;
  topK?: number;
  /** Valid calls executed per turn (recipe: 1). */
  maxCallsPerTurn?: number;
}

export interface TrajectoryTask extends TrajectoryIdentity {
  /** The recipe's seed; the trajectory's own seed is derived from it (agent/seed.ts). */
  seed: number;
  messages: ChatMessage[];
}

export interface AgentDeps {
  tok: ChatTokenizer;
  policy: PolicyClient;
  tools: ToolRunner;
  settings: AgentSettings;
}

export class PromptTooLongError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

interface LoopState {
  logprobs: number[];
  turns: TurnRecord[];
  toolRounds: number;
  malformed: number;
}

function turnRecord(text: string, parsed: ParsedTurn, generatedTokens: number): TurnRecord {
  const first = parsed.outcomes[0];
  return {
    text,
    parseStatus: parsed.action === 'final' ? 'no_call' : first.ok ? 'ok' : first.problem,
    callSpans: parsed.outcomes.length,
    call: null,
    toolInput: null,
    toolOutput: [],
    toolStatus: null,
    toolTimeMs: null,
    toolAttempts: 0,
    generatedTokens,
    toolTokens: 0,
  };
}

/** Runs the turn's calls and returns the tool responses in span order; fills the turn's tool columns. */
async function answerCalls(parsed: ParsedTurn, turn: TurnRecord, deps: AgentDeps, state: LoopState): Promise<{ contents: string[]; executed: boolean }> {
  const contents: string[] = [];
  let executed = false;
  for (const o of parsed.outcomes) {
    if (!o.ok) {
      contents.push(o.message);
      state.malformed++;
      continue;
    }
    const code = codeFromArguments(o.call.arguments);
    const run = await deps.tools.run(o.call.arguments);
    contents.push(run.text);
    if (turn.call === null) {
      turn.call = canonicalJson(o.call);
      turn.toolInput = typeof code === 'string' ? code : null;
      turn.toolStatus = run.status;
      turn.toolTimeMs = run.timeMs;
      turn.toolAttempts = run.attempts;
    }
    // Arguments the interpreter refused never reached the sandbox: an error text, like a malformed call.
    if (run.status === 'invalid_arguments') state.malformed++;
    else executed = true;
  }
  if (turn.toolStatus === null) turn.toolStatus = 'malformed';
  return { contents, executed };
}

/** The unscored trajectory record of a finished rollout. */
function record(task: TrajectoryTask, builder: RolloutBuilder, promptIds: number[], seed: number, state: LoopState, finish: FinishReason): TrajectoryRecord {
  const responseIds = builder.ids.slice(promptIds.length);
  return {
    run: task.run,
    step: task.step,
    promptUid: task.promptUid,
    sampleIndex: task.sampleIndex,
    dataSource: task.dataSource,
    ability: task.ability,
    validation: task.validation,
    samplingSeed: String(seed),
    promptIds,
    responseIds,
    responseMask: builder.mask.slice(promptIds.length),
    rolloutLogProbs: state.logprobs.map((x) => Math.fround(x)),
    turns: state.turns,
    finishReason: finish,
    numTurns: state.turns.length,
    toolRounds: state.toolRounds,
    malformedCalls: state.malformed,
    responseLength: responseIds.length,
    ...UNSCORED,
  };
}

/** One trajectory, unscored. Throws ToolInfrastructureError when the sandbox keeps failing (retry the rollout). */
export async function runTrajectory(task: TrajectoryTask, deps: AgentDeps): Promise<TrajectoryRecord> {
  const { tok, policy, settings } = deps;
  const builder = RolloutBuilder.fromPrompt(tok, task.messages, [CODE_INTERPRETER_TOOL]);
  const promptIds = [...builder.ids];
  if (promptIds.length > settings.maxPromptLength) {
    throw new PromptTooLongError(`prompt ${task.promptUid}: ${promptIds.length} tokens, more than max_prompt_length ${settings.maxPromptLength}`);
  }
  const seed = trajectorySeed(task.seed, task.step, task.promptUid, task.sampleIndex);
  const params = (): TurnParams => ({
    maxNewTokens: settings.maxResponseLength - builder.responseLength,
    temperature: settings.temperature,
    topP: settings.topP,
    ...(settings.topK !== undefined ? { topK: settings.topK } : {}),
    stopTokens: [tok.endOfTurnId],
  });
  const state: LoopState = { logprobs: [], turns: [], toolRounds: 0, malformed: 0 };
  let finish: FinishReason = 'length';
  let seqId: number | null = null;
  let pendingIds: number[] = [];
  try {
    for (let t = 0; t < settings.maxTurns; t++) {
      if (builder.responseLength >= settings.maxResponseLength) break; // budget spent: 'length'
      const gen: PolicyTurn = seqId === null ? await policy.start(promptIds, { ...params(), seed }) : await policy.resume(seqId, pendingIds, params());
      seqId = gen.seqId;
      const text = builder.appendGenerated(gen.tokens);
      state.logprobs.push(...gen.logprobs);
      const parsed = parseToolCalls(text, [CODE_INTERPRETER_TOOL], { maxCalls: settings.maxCallsPerTurn ?? 1 });
      const turn = turnRecord(text, parsed, gen.tokens.length);
      state.turns.push(turn);
      if (!builder.lastTurnComplete) {
        finish = 'length'; // cut by the budget before <|im_end|>: no tool turn can follow
        break;
      }
      if (parsed.action === 'final') {
        finish = 'stop';
        break;
      }
      if (t === settings.maxTurns - 1) {
        turn.toolStatus = 'not_run_turn_cap';
        finish = 'max_turns';
        break;
      }
      const { contents, executed } = await answerCalls(parsed, turn, deps, state);
      const ids = builder.appendToolResults(contents.map((content) => ({ content })), { maxResponseLength: settings.maxResponseLength });
      if (ids === null) {
        // Not appended, so not a round, and the model never saw these outputs.
        turn.toolStatus = 'not_appended_budget';
        finish = 'tool_budget';
        break;
      }
      turn.toolOutput = contents;
      turn.toolTokens = ids.length;
      for (let i = 0; i < ids.length; i++) state.logprobs.push(0);
      if (executed) state.toolRounds++;
      pendingIds = ids;
    }
  } finally {
    if (seqId !== null) await policy.release(seqId);
  }
  return record(task, builder, promptIds, seed, state, finish);
}

/** The n trajectories of one prompt, run concurrently (none waits on another); records in sample order. */
export function runGroup(task: Omit<TrajectoryTask, 'sampleIndex'>, n: number, deps: AgentDeps): Promise<TrajectoryRecord[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => runTrajectory({ ...task, sampleIndex: i }, deps)));
}
