// SFT tokenisation with an exact loss mask, derived from the template itself rather than from strings of one
// model. For every assistant message i we render
//   P_i = messages[0..i) with the generation prompt   (ends with the template's "<|im_start|>assistant\n")
//   R_i = messages[0..i]  without it                   (the conversation up to and including turn i)
// The trained span of turn i is R_i[|P_i| .. end of the first end-of-turn token after |P_i|): the assistant
// content, its tool-call JSON and its <|im_end|>, never the generation prefix or the newline after <|im_end|>.
//
// Templates may render a turn differently once later turns follow (Qwen3 adds an empty <think> block to the
// last assistant turn only and drops reasoning before the last user query). Two ways to train such a
// conversation (docs/chat-protocol.md, "Multi-turn modes"):
//   per_turn: R_i is itself the sample of turn i (the text the model continues at generation time); a sample
//             also trains every earlier turn j whose R_j span it contains unchanged, so a conversation the
//             template never rewrites stays one sample.
//   whole:    one rendering of the whole conversation; when it is not consistent with the R_i, each assistant
//             turn is located in it by the generation prompt's first line (the turn header).
import { ChatProtocolError } from './errors.ts';
import type { ChatErrorWhere } from './errors.ts';
import { REJECT_REASONS } from './rejectReasons.ts';
import type { RejectReason } from './rejectReasons.ts';
import type { ChatTokenizer } from './chatTokenizer.ts';
import type { ChatMessage, ToolSpec } from './types.ts';

export type MultiTurnMode = 'whole' | 'per_turn';

/** Split only where the template disagrees with itself: every turn is trained as it is generated. */
export const DEFAULT_MULTI_TURN: MultiTurnMode = 'per_turn';

export interface EncodeOptions {
  /** Right truncation: keep the first maxLength tokens (SFT default 32768, the card's max length). */
  maxLength?: number;
  /** How a conversation whose template rewrites earlier turns is trained (default DEFAULT_MULTI_TURN). */
  multiTurn?: MultiTurnMode;
}

export interface EncodedConversation {
  ids: number[];
  /** 1 where the token is trained (assistant content, tool-call JSON, end-of-turn), else 0. */
  mask: number[];
  truncated: boolean;
  /** Tokens before truncation. */
  fullLength: number;
  /** The rendered text (untruncated). */
  text: string;
  /** Trained character spans [start, end) of `text`, one per trained assistant message. */
  spans: Array<[number, number]>;
  /** Message indices of the assistant turns this sample trains (same order as spans). */
  turns: number[];
  /**
   * Tokens that cross a span boundary (e.g. the prefix newline merged with leading newlines of the content).
   * They are trained (any overlap counts, as transformers' assistant mask does); reported for auditing.
   */
  straddlingTokens: number;
}

/** A conversation that cannot be trained on; `reason` is one of REJECT_REASONS (the audit counts by it). */
export class UnusableConversationError extends ChatProtocolError {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, detail: string, where: ChatErrorWhere = {}) {
    super(`${reason}: ${detail}`, where);
    this.reason = reason;
  }
}

/** One assistant turn rendered on its own: R_i and its trained span, or why R_i does not continue P_i. */
interface TurnRendering {
  index: number;
  text: string;
  span: [number, number] | null;
  problem: string | null;
}

function render(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null, addGenerationPrompt: boolean): string {
  try {
    return tok.render(messages, { tools, addGenerationPrompt });
  } catch (err) {
    if (err instanceof ChatProtocolError) throw new UnusableConversationError(REJECT_REASONS.templateError, err.message);
    throw err;
  }
}

function turnRenderings(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null): TurnRendering[] {
  const eot = tok.endOfTurnToken;
  const out: TurnRendering[] = [];
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    const prompt = render(tok, messages.slice(0, i), tools, true);
    const text = render(tok, messages.slice(0, i + 1), tools, false);
    if (!text.startsWith(prompt)) {
      out.push({ index: i, text, span: null, problem: 'the template renders this turn differently from its generation prompt (e.g. reasoning with enable_thinking false)' });
      continue;
    }
    const eotAt = text.indexOf(eot, prompt.length);
    if (eotAt < 0) {
      out.push({ index: i, text, span: null, problem: `the rendered turn has no ${eot} after the generation prompt` });
      continue;
    }
    out.push({ index: i, text, span: [prompt.length, eotAt + eot.length], problem: null });
  }
  return out;
}

/** The generation prompt's text: what add_generation_prompt appends after the messages before the first assistant turn. */
function generationPrompt(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null, firstAssistant: number): string {
  const before = render(tok, messages.slice(0, firstAssistant), tools, false);
  const prompt = render(tok, messages.slice(0, firstAssistant), tools, true);
  if (!prompt.startsWith(before) || prompt.length === before.length) {
    throw new UnusableConversationError(REJECT_REASONS.turnsNotFound, 'the generation prompt is not an addition to the rendered messages', {
      file: tok.files.chatTemplateSource,
    });
  }
  return prompt.slice(before.length);
}

/**
 * Spans of the assistant turns in a rendering of the whole conversation that the template rewrote. Each turn
 * starts with the generation prompt's first line (the header); the span starts after the whole generation
 * prompt when the turn begins with it (e.g. Qwen3's empty think block under enable_thinking false, which the
 * model never generates), else after the header, and ends with the first end-of-turn token.
 */
function locateByHeader(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null, text: string): Array<[number, number]> {
  const assistants = messages.flatMap((m, i) => (m.role === 'assistant' ? [i] : []));
  const gen = generationPrompt(tok, messages, tools, assistants[0]);
  const nl = gen.indexOf('\n');
  const header = nl >= 0 ? gen.slice(0, nl + 1) : gen;
  const starts: number[] = [];
  for (let at = text.indexOf(header); at >= 0; at = text.indexOf(header, at + header.length)) starts.push(at);
  const where = { file: tok.files.chatTemplateSource };
  if (starts.length !== assistants.length) {
    throw new UnusableConversationError(
      REJECT_REASONS.turnsNotFound,
      `${assistants.length} assistant messages but ${starts.length} turn headers ${JSON.stringify(header)} in the rendering`,
      where,
    );
  }
  const eot = tok.endOfTurnToken;
  return starts.map((at, k) => {
    const start = text.startsWith(gen, at) ? at + gen.length : at + header.length;
    const eotAt = text.indexOf(eot, start);
    const next = k + 1 < starts.length ? starts[k + 1] : text.length;
    if (eotAt < 0 || eotAt + eot.length > next) {
      throw new UnusableConversationError(REJECT_REASONS.turnsNotFound, `assistant turn has no ${eot} before the next turn`, { ...where, messageIndex: assistants[k] });
    }
    return [start, eotAt + eot.length];
  });
}

/** Maps character spans to a token mask (any overlap trains the token) and applies right truncation. */
export function encodeSpans(tok: ChatTokenizer, text: string, spans: Array<[number, number]>, turns: number[], maxLength = Infinity): EncodedConversation {
  if (!(maxLength > 0)) throw new ChatProtocolError(`maxLength must be positive, got ${maxLength}`);
  const ids = tok.encode(text);
  const starts = tok.tokenByteOffsets(ids, text);
  const mask = new Array<number>(ids.length).fill(0);
  let straddlingTokens = 0;
  let t = 0;
  for (const [cs, ce] of spans) {
    const bs = tok.byteOffsetOf(text, cs);
    const be = tok.byteOffsetOf(text, ce);
    while (t < ids.length && starts[t + 1] <= bs) t++;
    let u = t;
    for (; u < ids.length && starts[u] < be; u++) {
      mask[u] = 1;
      if (starts[u] < bs || starts[u + 1] > be) straddlingTokens++;
    }
    t = u;
  }
  const fullLength = ids.length;
  const truncated = fullLength > maxLength;
  return {
    ids: truncated ? ids.slice(0, maxLength) : ids,
    mask: truncated ? mask.slice(0, maxLength) : mask,
    truncated,
    fullLength,
    text,
    spans,
    turns,
    straddlingTokens,
  };
}

function requireAssistant(messages: readonly ChatMessage[]): void {
  if (!messages.some((m) => m.role === 'assistant')) throw new UnusableConversationError(REJECT_REASONS.noAssistantTurn, 'the conversation has no assistant message');
}

/** Mode `whole`: one sample, the whole conversation as the template renders it, every assistant turn trained. */
export function encodeConversation(
  tok: ChatTokenizer,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[] | null,
  opts: Omit<EncodeOptions, 'multiTurn'> = {},
): EncodedConversation {
  requireAssistant(messages);
  const text = render(tok, messages, tools, false);
  const turns = turnRenderings(tok, messages, tools);
  const consistent = turns.every((r) => r.span !== null && text.startsWith(r.text.slice(0, r.span[1])));
  const spans = consistent ? turns.map((r) => r.span!) : locateByHeader(tok, messages, tools, text);
  return encodeSpans(tok, text, spans, turns.map((r) => r.index), opts.maxLength);
}

/**
 * Mode `per_turn`: the sample of turn i is R_i; going from the last turn back, each sample also trains the
 * earlier turns it contains unchanged and not yet trained. Samples come in conversation order.
 */
function encodePerTurn(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null, maxLength?: number): EncodedConversation[] {
  requireAssistant(messages);
  const turns = turnRenderings(tok, messages, tools);
  const bad = turns.find((r) => r.problem !== null);
  if (bad) throw new UnusableConversationError(REJECT_REASONS.notContinuation, bad.problem!, { file: tok.files.chatTemplateSource, messageIndex: bad.index });
  const covered = new Set<number>();
  const samples: EncodedConversation[] = [];
  for (let k = turns.length - 1; k >= 0; k--) {
    if (covered.has(k)) continue;
    const sample = turns[k];
    const members: number[] = [];
    for (let j = 0; j <= k; j++) {
      if (!covered.has(j) && sample.text.startsWith(turns[j].text.slice(0, turns[j].span![1]))) members.push(j);
    }
    for (const j of members) covered.add(j);
    const spans = members.map((j) => turns[j].span!);
    samples.push(encodeSpans(tok, sample.text, spans, members.map((j) => turns[j].index), maxLength));
  }
  return samples.reverse();
}

/** The training samples of one conversation under the given multi-turn mode (one for `whole`). */
export function encodeConversationSamples(
  tok: ChatTokenizer,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[] | null,
  opts: EncodeOptions = {},
): EncodedConversation[] {
  const mode = opts.multiTurn ?? DEFAULT_MULTI_TURN;
  if (mode === 'whole') return [encodeConversation(tok, messages, tools, opts)];
  if (mode === 'per_turn') return encodePerTurn(tok, messages, tools, opts.maxLength);
  throw new ChatProtocolError(`multiTurn must be 'whole' or 'per_turn', got ${JSON.stringify(mode)}`);
}
