// The trajectory record of the GRPO-TCR stage: one Arrow row per rollout, token-exact, written before scoring
// and kept (the audit users of verl, TRL and slime ask for). The reward columns are null until the trajectory is
// scored; scoring writes a new file with them filled, so the unscored file a crash left behind is never resampled.
// Field by field declaration (no inference): a file's layout must not depend on the values in it. The columns are
// documented in docs/grpo.md ("The trajectory record").
import { readFile } from 'node:fs/promises';
import { Bool, Field, Float32, Float64, Int32, Int8, List, makeData, RecordBatch, Schema, Struct, Table, tableFromIPC, tableToIPC, Utf8, vectorFromArray } from 'apache-arrow';
import type { DataType, Vector } from 'apache-arrow';
import { writeBytesAtomic } from '../core/atomic-write.ts';

const str = (name: string, nullable = false): Field => new Field(name, new Utf8(), nullable);
const i32 = (name: string, nullable = false): Field => new Field(name, new Int32(), nullable);
const f64 = (name: string, nullable = false): Field => new Field(name, new Float64(), nullable);
const listOf = (name: string, child: DataType): Field => new Field(name, new List(new Field('element', child, false)), false);

/** One generated turn and the tool turn that answered it (if any). */
export const TURN_STRUCT = new Struct([
  /** The generated text of the turn, end-of-turn token excluded (what the tool-call parser read). */
  str('text'),
  /** 'no_call' (final answer), 'ok' (the first span parsed as a call), or the first span's problem (chat/toolCalls.ts). */
  str('parse_status'),
  /** `<tool_call>` spans in the turn. */
  i32('call_spans'),
  /** The call that was executed, canonical JSON {name, arguments}; null when none ran. */
  str('call', true),
  /** The program sent to the sandbox; null when none ran. */
  str('tool_input', true),
  /** Every <tool_response> of the appended tool turn, exactly as shown to the model; empty when none was appended. */
  listOf('tool_output', new Utf8()),
  /**
   * finished | error | timeout | invalid_arguments (the sandbox's verdict of the executed call), malformed (only
   * error texts were fed back), not_run_turn_cap (a call in the last allowed turn), not_appended_budget (the
   * tool turn would have exceeded the response budget); null for a final turn.
   */
  str('tool_status', true),
  /** Wall time of the executed call in the sandbox, retries included. */
  f64('tool_time_ms', true),
  /** Sandbox attempts for the executed call (> 1: infrastructure failures were retried). */
  i32('tool_attempts'),
  /** Generated tokens of this turn (mask 1) and tool-turn tokens appended after it (mask 0). */
  i32('generated_tokens'),
  i32('tool_tokens'),
]);

export const TRAJECTORY_SCHEMA = new Schema([
  str('run'),
  i32('step'),
  str('prompt_uid'),
  i32('sample_index'),
  str('data_source'),
  str('ability'),
  /** Validation rollouts are recorded the same way, marked here; they never enter an update. */
  new Field('validation', new Bool(), false),
  /** The sampling seed of this trajectory, derived from (seed, step, prompt uid, sample index); decimal text. */
  str('sampling_seed'),
  listOf('prompt_ids', new Int32()),
  /** Every token after the prompt: generated turns and tool turns, in order. */
  listOf('response_ids', new Int32()),
  /** 1 for generated tokens, 0 for tool-turn tokens; same length as response_ids. */
  listOf('response_mask', new Int8()),
  /** The sampler's log-prob of each response token (temperature 1, untruncated); 0 on tool tokens. */
  listOf('rollout_log_probs', new Float32()),
  listOf('turns', TURN_STRUCT),
  /** stop (a turn without a tool call) | length (the budget ended a generation) | tool_budget | max_turns. */
  str('finish_reason'),
  i32('num_turns'),
  /** Executed tool rounds: a parsed call that ran and whose output was appended (what TCR counts). */
  i32('tool_rounds'),
  /** Tool-call spans answered with an error text instead of running (malformed, unknown tool, over the limit). */
  i32('malformed_calls'),
  /** Tokens after the prompt, tool tokens included (what the overlong penalty counts). */
  i32('response_length'),
  // Reward components: null until scored.
  f64('outcome', true),
  /** The outcome counts as fully correct (math +1, code every test passed): mean@n / best@n read this. */
  new Field('outcome_correct', new Bool(), true),
  /** JSON: math {mode, extracted, reason}; code {reason, passed, total, detail}. */
  str('outcome_detail', true),
  f64('tcr', true),
  f64('overlong', true),
  f64('reward', true),
  /** The group advantage applied to every mask-1 token; null for validation rows and before the update. */
  f64('advantage', true),
]);

export interface TurnRecord {
  text: string;
  parseStatus: string;
  callSpans: number;
  call: string | null;
  toolInput: string | null;
  toolOutput: string[];
  toolStatus: string | null;
  toolTimeMs: number | null;
  toolAttempts: number;
  generatedTokens: number;
  toolTokens: number;
}

export type FinishReason = 'stop' | 'length' | 'tool_budget' | 'max_turns';

export interface RewardColumns {
  outcome: number | null;
  outcomeCorrect: boolean | null;
  outcomeDetail: string | null;
  tcr: number | null;
  overlong: number | null;
  reward: number | null;
  advantage: number | null;
}

/** Which trajectory a row is: the run, the RL step, the prompt and the sample of its group. */
export interface TrajectoryIdentity {
  run: string;
  step: number;
  promptUid: string;
  sampleIndex: number;
  dataSource: string;
  ability: string;
  validation: boolean;
}

export interface TrajectoryRecord extends TrajectoryIdentity, RewardColumns {
  samplingSeed: string;
  promptIds: number[];
  responseIds: number[];
  responseMask: number[];
  rolloutLogProbs: number[];
  turns: TurnRecord[];
  finishReason: FinishReason;
  numTurns: number;
  toolRounds: number;
  malformedCalls: number;
  responseLength: number;
}

export const UNSCORED: RewardColumns = { outcome: null, outcomeCorrect: null, outcomeDetail: null, tcr: null, overlong: null, reward: null, advantage: null };

const FINISH_REASONS: readonly string[] = ['stop', 'length', 'tool_budget', 'max_turns'];

function checkRecord(r: TrajectoryRecord, row: number): void {
  const where = `trajectory row ${row} (${r.promptUid} #${r.sampleIndex})`;
  const n = r.responseIds.length;
  if (r.responseMask.length !== n || r.rolloutLogProbs.length !== n) {
    throw new Error(`${where}: response_ids (${n}), response_mask (${r.responseMask.length}) and rollout_log_probs (${r.rolloutLogProbs.length}) differ in length`);
  }
  if (r.responseLength !== n) throw new Error(`${where}: response_length ${r.responseLength} != ${n} response ids`);
  if (r.numTurns !== r.turns.length) throw new Error(`${where}: num_turns ${r.numTurns} != ${r.turns.length} turns`);
  if (!FINISH_REASONS.includes(r.finishReason)) throw new Error(`${where}: unknown finish_reason ${JSON.stringify(r.finishReason)}`);
}

function column(values: unknown[], type: DataType) {
  return vectorFromArray(values as any[], type).data[0];
}

function turnObject(t: TurnRecord) {
  return {
    text: t.text,
    parse_status: t.parseStatus,
    call_spans: t.callSpans,
    call: t.call,
    tool_input: t.toolInput,
    tool_output: t.toolOutput,
    tool_status: t.toolStatus,
    tool_time_ms: t.toolTimeMs,
    tool_attempts: t.toolAttempts,
    generated_tokens: t.generatedTokens,
    tool_tokens: t.toolTokens,
  };
}

/** One record batch in TRAJECTORY_SCHEMA, rows in the order given. */
export function makeTrajectoryBatch(records: readonly TrajectoryRecord[]): RecordBatch {
  records.forEach(checkRecord);
  const f = TRAJECTORY_SCHEMA.fields;
  const get: ((r: TrajectoryRecord) => unknown)[] = [
    (r) => r.run,
    (r) => r.step,
    (r) => r.promptUid,
    (r) => r.sampleIndex,
    (r) => r.dataSource,
    (r) => r.ability,
    (r) => r.validation,
    (r) => r.samplingSeed,
    (r) => r.promptIds,
    (r) => r.responseIds,
    (r) => r.responseMask,
    (r) => r.rolloutLogProbs,
    (r) => r.turns.map(turnObject),
    (r) => r.finishReason,
    (r) => r.numTurns,
    (r) => r.toolRounds,
    (r) => r.malformedCalls,
    (r) => r.responseLength,
    (r) => r.outcome,
    (r) => r.outcomeCorrect,
    (r) => r.outcomeDetail,
    (r) => r.tcr,
    (r) => r.overlong,
    (r) => r.reward,
    (r) => r.advantage,
  ];
  if (get.length !== f.length) throw new Error('makeTrajectoryBatch: accessor list out of step with TRAJECTORY_SCHEMA');
  const children = f.map((field, i) => column(records.map(get[i]), field.type));
  return new RecordBatch(TRAJECTORY_SCHEMA, makeData({ type: new Struct(f), length: records.length, nullCount: 0, children }));
}

/** Arrow IPC file bytes of the records (deterministic: same records, same bytes). */
export function encodeTrajectories(records: readonly TrajectoryRecord[]): Uint8Array {
  return tableToIPC(new Table([makeTrajectoryBatch(records)]), 'file');
}

const nums = (v: Vector | null): number[] => (v ? Array.from(v.toArray() as ArrayLike<number>) : []);

function readTurn(t: any): TurnRecord {
  return {
    text: t.text,
    parseStatus: t.parse_status,
    callSpans: t.call_spans,
    call: t.call ?? null,
    toolInput: t.tool_input ?? null,
    toolOutput: t.tool_output ? (Array.from(t.tool_output.toArray()) as string[]) : [],
    toolStatus: t.tool_status ?? null,
    toolTimeMs: t.tool_time_ms ?? null,
    toolAttempts: t.tool_attempts,
    generatedTokens: t.generated_tokens,
    toolTokens: t.tool_tokens,
  };
}

/** Reads records back from Arrow IPC bytes (file or stream format); the schema must be TRAJECTORY_SCHEMA's. */
export function decodeTrajectories(bytes: Uint8Array, source = 'trajectory file'): TrajectoryRecord[] {
  const table = tableFromIPC(bytes);
  const want = TRAJECTORY_SCHEMA.fields.map((x) => `${x.name}:${String(x.type)}`);
  const got = table.schema.fields.map((x) => `${x.name}:${String(x.type)}`);
  const missing = want.filter((w) => !got.includes(w));
  if (missing.length > 0) throw new Error(`${source}: not a trajectory record file; missing or mistyped columns: ${missing.join(', ')}`);
  const col = (name: string) => table.getChild(name)!;
  const out: TrajectoryRecord[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const v = (name: string) => col(name).get(i);
    const turns = v('turns') as Vector | null;
    out.push({
      run: v('run'),
      step: v('step'),
      promptUid: v('prompt_uid'),
      sampleIndex: v('sample_index'),
      dataSource: v('data_source'),
      ability: v('ability'),
      validation: v('validation'),
      samplingSeed: v('sampling_seed'),
      promptIds: nums(v('prompt_ids')),
      responseIds: nums(v('response_ids')),
      responseMask: nums(v('response_mask')),
      rolloutLogProbs: nums(v('rollout_log_probs')),
      turns: turns ? Array.from(turns, readTurn) : [],
      finishReason: v('finish_reason'),
      numTurns: v('num_turns'),
      toolRounds: v('tool_rounds'),
      malformedCalls: v('malformed_calls'),
      responseLength: v('response_length'),
      outcome: v('outcome') ?? null,
      outcomeCorrect: v('outcome_correct') ?? null,
      outcomeDetail: v('outcome_detail') ?? null,
      tcr: v('tcr') ?? null,
      overlong: v('overlong') ?? null,
      reward: v('reward') ?? null,
      advantage: v('advantage') ?? null,
    });
  }
  return out;
}

/** Writes the records atomically to `path` (Arrow IPC file); returns its size and sha256. */
export function writeTrajectoryFile(path: string, records: readonly TrajectoryRecord[]): Promise<{ bytes: number; sha256: string }> {
  return writeBytesAtomic(path, encodeTrajectories(records));
}

export async function readTrajectoryFile(path: string): Promise<TrajectoryRecord[]> {
  return decodeTrajectories(await readFile(path), path);
}

/**
 * The scored record of a GRPO step, under the stage's work/scored/ folder:
 * step-<6 digits>[-val[-baseline]][-d<draw>].arrow (validation; the baseline model's validation before training;
 * the extra generation batches of a dynamic-sampling step). The report finds validation points by it.
 */
export function scoredRecordName(step: number, validation: boolean, draw = 0, baseline = false): string {
  return `step-${String(step).padStart(6, '0')}${validation ? '-val' : ''}${validation && baseline ? '-baseline' : ''}${draw > 0 ? `-d${draw}` : ''}.arrow`;
}

export function parseScoredRecordName(name: string): { step: number; validation: boolean; baseline: boolean; draw: number } | undefined {
  const m = /^step-(\d{6})(-val(-baseline)?)?(?:-d(\d+))?\.arrow$/u.exec(name);
  return m ? { step: Number(m[1]), validation: m[2] !== undefined, baseline: m[3] !== undefined, draw: m[4] ? Number(m[4]) : 0 } : undefined;
}
