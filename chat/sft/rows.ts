// Validates one multi-turn SFT row (verl's layout: messages + tools) and turns it into ChatMessages. Rows
// come from parquet (structs, where absent keys read back as null) or JSON lines (objects); both end up
// as plain JS values here. Problems become one of REJECT_REASONS plus a detail naming the message/field:
// the reader files the row under rejects.
import { REJECT_REASONS } from '../rejectReasons.ts';
import type { RejectReason } from '../rejectReasons.ts';
import type { ChatMessage, Role, ToolCall, ToolSpec } from '../types.ts';

export type RowResult =
  | { ok: true; messages: ChatMessage[]; tools: ToolSpec[] | null; sampleId: string | null }
  | { ok: false; reason: RejectReason; detail: string; sampleId: string | null };

const ROLES = new Set<Role>(['system', 'user', 'assistant', 'tool']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Drops null-valued keys, deeply. pyarrow unifies struct fields across rows, so a key one row never had
 * reads back as null (e.g. a tool's `properties.word` in a row whose tool has only `code`); the original
 * JSON did not contain it, and rendering it would put "null" into the prompt.
 */
export function dropNullKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNullKeys);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNullKeys(x);
  return out;
}

class RowProblem extends Error {
  constructor(
    readonly reason: RejectReason,
    detail: string,
  ) {
    super(detail);
  }
}

function parseArguments(value: unknown, where: string): Record<string, unknown> | string {
  // A struct column ({code, language}) and a JSON object both arrive as objects.
  if (isObject(value)) return dropNullKeys(value) as Record<string, unknown>;
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new RowProblem(REJECT_REASONS.unparseableArguments, `${where}: arguments is not valid JSON`);
    }
    if (!isObject(parsed)) throw new RowProblem(REJECT_REASONS.unparseableArguments, `${where}: arguments must decode to a JSON object`);
    // Keep the text: templates print string arguments verbatim, exactly as verl renders them.
    return value;
  }
  throw new RowProblem(REJECT_REASONS.unparseableArguments, `${where}: arguments must be an object or a JSON string`);
}

function toToolCalls(value: unknown, i: number): ToolCall[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value)) throw new RowProblem(REJECT_REASONS.malformedToolCall, `messages[${i}].tool_calls must be a list`);
  if (value.length === 0) return undefined;
  return value.map((c, j) => {
    const where = `messages[${i}].tool_calls[${j}]`;
    if (!isObject(c)) throw new RowProblem(REJECT_REASONS.malformedToolCall, `${where} must be an object`);
    const fn = isObject(c.function) ? c.function : c;
    if (typeof fn.name !== 'string' || fn.name === '') throw new RowProblem(REJECT_REASONS.malformedToolCall, `${where}: missing function name`);
    const call: ToolCall = { type: 'function', function: { name: fn.name, arguments: parseArguments(fn.arguments, where) } };
    if (typeof c.id === 'string') call.id = c.id;
    return call;
  });
}

function toTools(value: unknown): ToolSpec[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value)) throw new RowProblem(REJECT_REASONS.malformedTools, 'tools must be a list');
  return value.map((t, j) => {
    const fn = isObject(t) && isObject(t.function) ? t.function : null;
    if (!fn || typeof fn.name !== 'string') throw new RowProblem(REJECT_REASONS.malformedTools, `tools[${j}]: missing function name`);
    let parameters = fn.parameters;
    if (typeof parameters === 'string') {
      try {
        parameters = JSON.parse(parameters);
      } catch {
        throw new RowProblem(REJECT_REASONS.malformedTools, `tools[${j}].function.parameters is not valid JSON`);
      }
    }
    return dropNullKeys({ type: 'function', function: { name: fn.name, description: fn.description, parameters } }) as ToolSpec;
  });
}

function toMessage(m: unknown, i: number): ChatMessage {
  if (!isObject(m)) throw new RowProblem(REJECT_REASONS.malformedMessage, `messages[${i}] must be an object`);
  const role = m.role as Role;
  if (!ROLES.has(role)) throw new RowProblem(REJECT_REASONS.malformedMessage, `messages[${i}].role ${JSON.stringify(m.role)} is not one of system, user, assistant, tool`);
  const content = m.content ?? '';
  if (typeof content !== 'string') throw new RowProblem(REJECT_REASONS.malformedMessage, `messages[${i}].content must be a string`);
  const message: ChatMessage = { role, content };
  const calls = toToolCalls(m.tool_calls, i);
  if (calls && role !== 'assistant') throw new RowProblem(REJECT_REASONS.malformedToolCall, `messages[${i}]: only assistant messages may have tool_calls`);
  if (calls) message.tool_calls = calls;
  const reasoning = m.reasoning_content;
  if (reasoning !== null && reasoning !== undefined) {
    if (role !== 'assistant' || typeof reasoning !== 'string') {
      throw new RowProblem(REJECT_REASONS.malformedMessage, `messages[${i}].reasoning_content must be a string on an assistant message`);
    }
    message.reasoning_content = reasoning;
  }
  if (role === 'tool') {
    if (typeof m.tool_call_id === 'string') message.tool_call_id = m.tool_call_id;
    if (typeof m.name === 'string') message.name = m.name;
  }
  return message;
}

/**
 * Order rules: a system message only first; the first other message is a user turn; no two assistant turns in
 * a row; each tool result answers one call of the latest assistant turn (no more results than calls).
 */
function checkOrder(messages: readonly ChatMessage[]): void {
  let openCalls = 0;
  messages.forEach((m, i) => {
    const prev = i > 0 ? messages[i - 1] : null;
    if (m.role === 'system' && i !== 0) throw new RowProblem(REJECT_REASONS.rolesOutOfOrder, `messages[${i}]: a system message is only allowed first`);
    if (m.role !== 'system' && (prev === null || prev.role === 'system') && m.role !== 'user') {
      throw new RowProblem(REJECT_REASONS.rolesOutOfOrder, `messages[${i}]: the conversation must start with a user message, not ${m.role}`);
    }
    if (m.role === 'assistant' && prev?.role === 'assistant') throw new RowProblem(REJECT_REASONS.rolesOutOfOrder, `messages[${i}]: two assistant messages in a row`);
    if (m.role === 'tool') {
      if (openCalls === 0) throw new RowProblem(REJECT_REASONS.toolResultWithoutCall, `messages[${i}]: tool message without a pending tool call`);
      openCalls--;
    } else {
      openCalls = m.role === 'assistant' ? (m.tool_calls?.length ?? 0) : 0;
    }
  });
}

export function normalizeSftRow(row: unknown): RowResult {
  const sampleId = isObject(row) && (typeof row.id === 'string' || typeof row.id === 'number') ? String(row.id) : null;
  try {
    if (!isObject(row)) throw new RowProblem(REJECT_REASONS.notObject, 'row must be an object');
    const raw = row.messages;
    if (!Array.isArray(raw) || raw.length === 0) throw new RowProblem(REJECT_REASONS.noMessages, 'messages must be a non-empty list');
    const messages = raw.map(toMessage);
    checkOrder(messages);
    if (!messages.some((m) => m.role === 'assistant')) throw new RowProblem(REJECT_REASONS.noAssistantTurn, 'no assistant message to train on');
    return { ok: true, messages, tools: toTools(row.tools), sampleId };
  } catch (err) {
    if (err instanceof RowProblem) return { ok: false, reason: err.reason, detail: err.message, sampleId };
    throw err;
  }
}
