// Hermes tool-call parsing of one generated assistant turn. Never throws on model output: every
// <tool_call> span becomes exactly one outcome, either a call to execute or an error text that the rollout
// feeds back to the model as that call's tool response (so the model learns what went wrong, instead of
// verl's silent skip). A turn without any <tool_call> tag is a final answer and ends the episode.
// The policy table is in docs/chat-protocol.md.
import { CODE_INTERPRETER_NAME, type ToolSpec } from './types.ts';

export const TOOL_CALL_OPEN = '<tool_call>';
export const TOOL_CALL_CLOSE = '</tool_call>';

export type ToolCallProblem =
  | 'unterminated'
  | 'invalid_json'
  | 'not_an_object'
  | 'missing_name'
  | 'missing_arguments'
  | 'invalid_arguments'
  | 'unknown_tool'
  | 'bad_arguments'
  | 'over_limit';

export interface ParsedCall {
  name: string;
  arguments: Record<string, unknown>;
}

export type CallOutcome =
  | { ok: true; index: number; raw: string; call: ParsedCall }
  | { ok: false; index: number; raw: string; problem: ToolCallProblem; message: string };

export interface ParsedTurn {
  /** 'final': no <tool_call> tag at all, the episode ends. 'tools': answer every outcome with a tool turn. */
  action: 'final' | 'tools';
  /** One per <tool_call> span, in order (spans skipped by malformedJson: 'skip' are left out). */
  outcomes: CallOutcome[];
  /** The calls to execute, in order (at most maxCalls). */
  calls: ParsedCall[];
  /** The turn's text with the <tool_call> spans removed, trimmed. */
  content: string;
  /** Non-blank text after the last </tool_call>; the calls still run (see the policy table). */
  trailingText: string;
}

export interface ParseOptions {
  /** Valid calls executed per turn; later valid calls get an 'over_limit' error. Recipe default: 1. */
  maxCalls?: number;
  /**
   * 'feedback' (default): unparseable or unterminated spans get an error text. 'skip': verl's behaviour,
   * such spans are dropped, and a turn left with no outcome is final.
   */
  malformedJson?: 'feedback' | 'skip';
}

const FORMAT_HINT = 'Write {"name": <tool name>, "arguments": {<argument name>: <value>}} between <tool_call> and </tool_call>.';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function jsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Checks required properties and primitive property types of a JSON-schema object; returns a problem or null. */
function checkArguments(args: Record<string, unknown>, tool: ToolSpec): string | null {
  const params = tool.function.parameters as { properties?: Record<string, any>; required?: string[]; additionalProperties?: boolean } | undefined;
  if (!params) return null;
  for (const name of params.required ?? []) {
    if (!(name in args)) return `missing required argument "${name}"`;
  }
  const props = params.properties ?? {};
  for (const [name, value] of Object.entries(args)) {
    const schema = props[name];
    if (!schema) {
      if (params.additionalProperties === false) return `unexpected argument "${name}"`;
      continue;
    }
    const want = schema.type;
    if (typeof want !== 'string') continue;
    const got = jsonType(value);
    const ok = want === got || (want === 'number' && got === 'integer');
    if (!ok) return `argument "${name}" must be of type ${want}, got ${got}`;
  }
  return null;
}

function judgeBody(body: string, index: number, tools: ReadonlyMap<string, ToolSpec>): CallOutcome {
  const raw = body;
  const fail = (problem: ToolCallProblem, message: string): CallOutcome => ({ ok: false, index, raw, problem, message });
  let value: unknown;
  try {
    value = JSON.parse(body.trim());
  } catch {
    return fail('invalid_json', `Error: tool call ${index + 1} is not valid JSON. ${FORMAT_HINT}`);
  }
  if (!isPlainObject(value)) return fail('not_an_object', `Error: tool call ${index + 1} must be a JSON object. ${FORMAT_HINT}`);
  const name = value.name;
  if (typeof name !== 'string' || name.length === 0) {
    return fail('missing_name', `Error: tool call ${index + 1} has no "name" string. ${FORMAT_HINT}`);
  }
  if (!('arguments' in value)) {
    return fail('missing_arguments', `Error: tool call ${index + 1} (${name}) has no "arguments" object. ${FORMAT_HINT}`);
  }
  let args = value.arguments;
  if (typeof args === 'string') {
    // OpenAI-style calls carry the arguments as JSON text.
    try {
      args = JSON.parse(args);
    } catch {
      return fail('invalid_arguments', `Error: the "arguments" of tool call ${index + 1} (${name}) is a string that is not valid JSON.`);
    }
  }
  if (!isPlainObject(args)) {
    return fail('invalid_arguments', `Error: the "arguments" of tool call ${index + 1} (${name}) must be a JSON object.`);
  }
  const tool = tools.get(name);
  if (!tool) {
    const known = [...tools.keys()].join(', ') || '(none)';
    return fail('unknown_tool', `Error: unknown tool "${name}". Available tools: ${known}.`);
  }
  const problem = checkArguments(args, tool);
  if (problem) return fail('bad_arguments', `Error: tool call ${index + 1} (${name}): ${problem}.`);
  return { ok: true, index, raw, call: { name, arguments: args } };
}

/** Parses the Hermes tool calls of one generated turn (text without the end-of-turn token). */
export function parseToolCalls(text: string, knownTools: readonly ToolSpec[], opts: ParseOptions = {}): ParsedTurn {
  const maxCalls = opts.maxCalls ?? 1;
  const skipMalformed = opts.malformedJson === 'skip';
  const tools = new Map(knownTools.map((t) => [t.function.name, t]));
  const outcomes: CallOutcome[] = [];
  const contentParts: string[] = [];
  let sawTag = false;
  let pos = 0;
  let trailingText = '';
  let spanIndex = 0;
  while (pos <= text.length) {
    const open = text.indexOf(TOOL_CALL_OPEN, pos);
    if (open < 0) {
      const rest = text.slice(pos);
      contentParts.push(rest);
      if (sawTag) trailingText = rest.trim();
      break;
    }
    sawTag = true;
    contentParts.push(text.slice(pos, open));
    const bodyStart = open + TOOL_CALL_OPEN.length;
    const close = text.indexOf(TOOL_CALL_CLOSE, bodyStart);
    const index = spanIndex++;
    if (close < 0) {
      // A call cut off by the length budget or the model forgetting the closing tag.
      if (!skipMalformed) {
        outcomes.push({
          ok: false,
          index,
          raw: text.slice(bodyStart),
          problem: 'unterminated',
          message: `Error: tool call ${index + 1} has no closing </tool_call> tag. ${FORMAT_HINT}`,
        });
      }
      break;
    }
    const outcome = judgeBody(text.slice(bodyStart, close), index, tools);
    if (!(skipMalformed && !outcome.ok && outcome.problem === 'invalid_json')) outcomes.push(outcome);
    pos = close + TOOL_CALL_CLOSE.length;
  }
  const calls: ParsedCall[] = [];
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (!o.ok) continue;
    if (calls.length < maxCalls) calls.push(o.call);
    else {
      outcomes[i] = {
        ok: false,
        index: o.index,
        raw: o.raw,
        problem: 'over_limit',
        message: `Error: only ${maxCalls} tool call(s) per turn are executed; tool call ${o.index + 1} was not run.`,
      };
    }
  }
  const action = sawTag && outcomes.length > 0 ? 'tools' : 'final';
  return { action, outcomes, calls, content: contentParts.join('').trim(), trailingText };
}

const FENCE = /```[ \t]*(?:python3?|py)?[ \t]*\r?\n([\s\S]*?)(?:```|$)/gi;

/**
 * The program to run for a code_interpreter call, from the arguments as the model sent them: a {code} object,
 * the JSON text of one, or (for templates that pass the bare program) the code itself. Fenced ```python (or
 * ```py, or bare ```) blocks are unwrapped: several blocks are joined with a newline in order, text outside
 * fences is dropped when there is at least one fence, and an unclosed fence runs to the end of the argument.
 * Arguments of any other shape give an error text meant for the model.
 */
export function codeFromArguments(args: unknown): string | { error: string } {
  let value = args;
  if (typeof value === 'string') {
    const trimmed = value.trim();
    if (!trimmed.startsWith('{')) return unwrapFences(value);
    try {
      value = JSON.parse(trimmed);
    } catch {
      return unwrapFences(value as string); // Python that happens to start with a brace
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { error: `Error: ${CODE_INTERPRETER_NAME} expects arguments {"code": "<python source>"}.` };
  }
  const code = (value as Record<string, unknown>).code;
  if (typeof code !== 'string') return { error: `Error: ${CODE_INTERPRETER_NAME} needs a string argument "code".` };
  return unwrapFences(code);
}

function unwrapFences(code: string): string {
  const bodies = [...code.matchAll(FENCE)].map((m) => m[1].replace(/\r?\n$/, ''));
  return bodies.length > 0 ? bodies.join('\n') : code;
}
