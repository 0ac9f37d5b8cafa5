// SFT tokenisation with an exact loss mask, derived from the template itself rather than from strings of one
// model. For every assistant message i we render
//   P_i = messages[0..i) with the generation prompt   (ends with the template's "<|im_start|>assistant\n")
//   F_i = messages[0..i]  without it                   (ends with the assistant turn and its separator)
// The trained span is F_i[|P_i| .. end of the last end-of-turn token in F_i): the assistant content, its
// tool-call JSON and its <|im_end|>, never the generation prefix or the newline after <|im_end|>.
// Each span must appear unchanged at the same place in the full rendering; if the template rewrites an
// earlier turn once later turns exist (Qwen3 drops <think> blocks of turns before the last user message),
// the check fails with TemplateRewritesHistoryError instead of silently masking the wrong characters.
import { ChatProtocolError } from './errors.ts';
import type { ChatTokenizer } from './chatTokenizer.ts';
import type { ChatMessage, ToolSpec } from './types.ts';

export interface EncodeOptions {
  /** Right truncation: keep the first maxLength tokens (recipe SFT: 32768). */
  maxLength?: number;
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
  /** Trained character spans [start, end) of `text`, one per assistant message. */
  spans: Array<[number, number]>;
  /**
   * Tokens that cross a span boundary (e.g. the prefix newline merged with leading newlines of the content).
   * They are trained (any overlap counts, as transformers' assistant mask does); reported for auditing.
   */
  straddlingTokens: number;
}

export class TemplateRewritesHistoryError extends ChatProtocolError {}

/** Character spans of the assistant turns that the loss covers; see the module comment. */
export function assistantSpans(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null, full: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  const eot = tok.endOfTurnToken;
  for (let i = 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    const prompt = tok.render(messages.slice(0, i), { tools, addGenerationPrompt: true });
    const withTurn = tok.render(messages.slice(0, i + 1), { tools, addGenerationPrompt: false });
    if (!withTurn.startsWith(prompt)) {
      throw new ChatProtocolError('the template does not render the assistant turn as a continuation of its generation prompt', {
        file: tok.files.chatTemplateSource,
        messageIndex: i,
      });
    }
    const eotAt = withTurn.lastIndexOf(eot);
    if (eotAt < prompt.length) {
      throw new ChatProtocolError(`the rendered assistant turn has no ${eot} after the generation prompt`, {
        file: tok.files.chatTemplateSource,
        messageIndex: i,
      });
    }
    const end = eotAt + eot.length;
    if (!full.startsWith(withTurn.slice(0, end))) {
      throw new TemplateRewritesHistoryError(
        'the template renders this assistant turn differently once later messages follow (e.g. it drops <think> blocks of earlier turns); ' +
          'train such conversations as one sample per final assistant turn',
        { file: tok.files.chatTemplateSource, messageIndex: i },
      );
    }
    spans.push([prompt.length, end]);
  }
  return spans;
}

export function encodeConversation(
  tok: ChatTokenizer,
  messages: readonly ChatMessage[],
  tools: readonly ToolSpec[] | null,
  opts: EncodeOptions = {},
): EncodedConversation {
  const text = tok.render(messages, { tools, addGenerationPrompt: false });
  const spans = assistantSpans(tok, messages, tools, text);
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
  const maxLength = opts.maxLength ?? Infinity;
  if (!(maxLength > 0)) throw new ChatProtocolError(`maxLength must be positive, got ${opts.maxLength}`);
  const truncated = fullLength > maxLength;
  return {
    ids: truncated ? ids.slice(0, maxLength) : ids,
    mask: truncated ? mask.slice(0, maxLength) : mask,
    truncated,
    fullLength,
    text,
    spans,
    straddlingTokens,
  };
}
