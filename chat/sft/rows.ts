// Validates one multi-turn SFT row (verl's layout: messages + tools) and turns it into ChatMessages. Rows
// come from parquet (structs, where absent keys read back as null) or JSON lines (objects); both end up
// as plain JS values here. Problems become a reason string: the reader files the row under rejects.
import type { ChatMessage, Role, ToolCall, ToolSpec } from '../types.ts';

export type RowResult =
  | { ok: true; messages: ChatMessage[]; tools: ToolSpec[] | null; sampleId: string | null }
  | { ok: false; reason: string; sampleId: string | null };

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

class RowProblem extends Error {}

function parseArguments(value: unknown, where: string): Record<string, unknown> | string {
  if (isObject(value)) return dropNullKeys(value) as Record<string, unknown>;
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new RowProblem(`${where}: arguments is not valid JSON`);
    }
    if (!isObject(parsed)) throw new RowProblem(`${where}: arguments must decode to a JSON object`);
    // Keep the text: templates print string arguments verbatim, exactly as verl renders them.
    return value;
  }
  throw new RowProblem(`${where}: arguments must be an object or a JSON string`);
}

function toToolCalls(value: unknown, i: number): ToolCall[] | undefined {
  if (value === null || value === undefined) return undefined;
  if (!Array.isArray(value)) throw new RowProblem(`messages[${i}].tool_calls must be a list`);
  if (value.length === 0) return undefined;
  return value.map((c, j) => {
    const where = `messages[${i}].tool_calls[${j}]`;
    if (!isObject(c)) throw new RowProblem(`${where} must be an object`);
    const fn = isObject(c.function) ? c.function : c;
    if (typeof fn.name !== 'string' || fn.name === '') throw new RowProblem(`${where}: missing function name`);
    const call: ToolCall = { type: 'function', function: { name: fn.name, arguments: parseArguments(fn.arguments, where) } };
    if (typeof c.id === 'string') call.id = c.id;
    return call;
  });
}

function toTools(value: unknown): ToolSpec[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value)) throw new RowProblem('tools must be a list');
  return value.map((t, j) => {
    const fn = isObject(t) && isObject(t.function) ? t.function : null;
    if (!fn || typeof fn.name !== 'string') throw new RowProblem(`tools[${j}]: missing function name`);
    let parameters = fn.parameters;
    if (typeof parameters === 'string') {
      try {
        parameters = JSON.parse(parameters);
      } catch {
        throw new RowProblem(`tools[${j}].function.parameters is not valid JSON`);
      }
    }
    return dropNullKeys({ type: 'function', function: { name: fn.name, description: fn.description, parameters } }) as ToolSpec;
  });
}

export function normalizeSftRow(row: unknown): RowResult {
  const sampleId = isObject(row) && (typeof row.id === 'string' || typeof row.id === 'number') ? String(row.id) : null;
  try {
    if (!isObject(row)) throw new RowProblem('row must be an object');
    const raw = row.messages;
    if (!Array.isArray(raw) || raw.length === 0) throw new RowProblem('messages must be a non-empty list');
    const messages: ChatMessage[] = [];
    let openCalls = false; // an assistant turn with tool calls precedes (possibly via other tool results)
    raw.forEach((m, i) => {
      if (!isObject(m)) throw new RowProblem(`messages[${i}] must be an object`);
      const role = m.role as Role;
      if (!ROLES.has(role)) throw new RowProblem(`messages[${i}].role ${JSON.stringify(m.role)} is not one of system, user, assistant, tool`);
      const content = m.content ?? '';
      if (typeof content !== 'string') throw new RowProblem(`messages[${i}].content must be a string`);
      const message: ChatMessage = { role, content };
      const calls = toToolCalls(m.tool_calls, i);
      if (calls && role !== 'assistant') throw new RowProblem(`messages[${i}]: only assistant messages may have tool_calls`);
      if (calls) message.tool_calls = calls;
      if (role === 'tool') {
        if (!openCalls) throw new RowProblem(`messages[${i}]: tool message without a preceding tool call`);
        if (typeof m.tool_call_id === 'string') message.tool_call_id = m.tool_call_id;
        if (typeof m.name === 'string') message.name = m.name;
      } else {
        openCalls = role === 'assistant' && calls !== undefined;
      }
      messages.push(message);
    });
    if (!messages.some((m) => m.role === 'assistant')) throw new RowProblem('no assistant message to train on');
    return { ok: true, messages, tools: toTools(row.tools), sampleId };
  } catch (err) {
    if (err instanceof RowProblem) return { ok: false, reason: err.message, sampleId };
    throw err;
  }
}
