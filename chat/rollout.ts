// Incremental token assembly of a multi-turn rollout. Generated ids are kept verbatim (mask 1): they are what
// the model saw while it generated, whatever the template would make of them on a re-render. Each tool turn is
// the exact text the template puts after the assistant's end-of-turn token when tool results and the next
// generation prompt follow (including the newline after <|im_end|> that verl used to drop). It is read from a
// render of the whole conversation by position, not by comparing histories: templates may re-render the last
// assistant turn once a tool result follows (Qwen3 gives the last turn an empty think block only while it is
// last), and that is no reason to refuse the tool turn. Tokenising the tool turn on its own is exact because it
// starts right after an added token, and tokenizers split text at added tokens first.
// When the template renders every generated turn verbatim (Qwen3: turns with a non-empty think block, and
// think-less turns before a tool result), the assembled ids equal the ids of rendering the conversation at once.
import { ChatProtocolError } from './errors.ts';
import type { ChatTokenizer } from './chatTokenizer.ts';
import type { ChatMessage, ToolSpec } from './types.ts';

/** One tool response as the next tool turn shows it to the model. */
export interface ToolResponse {
  content: string;
  name?: string;
  toolCallId?: string;
}

export interface AppendOptions {
  /**
   * Response budget in tokens (generated + tool tokens after the prompt). When the tool turn would exceed
   * it, nothing is appended and null is returned (the recipe stops the episode there).
   */
  maxResponseLength?: number;
}

export class RolloutBuilder {
  readonly tok: ChatTokenizer;
  readonly tools: readonly ToolSpec[] | null;
  readonly promptLength: number;
  /** The conversation so far as messages; generated turns are kept as their raw text. */
  readonly messages: ChatMessage[];
  private readonly idList: number[];
  private readonly maskList: number[];
  private lastTurnClosed = false;
  private turns = 0;
  private toolTurns = 0;

  private constructor(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null) {
    this.tok = tok;
    this.tools = tools && tools.length > 0 ? tools : null;
    this.messages = [...messages];
    this.idList = tok.encode(tok.render(messages, { tools: this.tools, addGenerationPrompt: true }));
    this.maskList = new Array<number>(this.idList.length).fill(0);
    this.promptLength = this.idList.length;
  }

  /** Starts from the prompt rendered with the generation prompt; all prompt tokens have mask 0. */
  static fromPrompt(tok: ChatTokenizer, messages: readonly ChatMessage[], tools: readonly ToolSpec[] | null): RolloutBuilder {
    return new RolloutBuilder(tok, messages, tools);
  }

  get ids(): readonly number[] {
    return this.idList;
  }

  get mask(): readonly number[] {
    return this.maskList;
  }

  /** Generated + tool tokens after the prompt (what the response budget counts). */
  get responseLength(): number {
    return this.idList.length - this.promptLength;
  }

  /** Generated assistant turns so far. */
  get generatedTurns(): number {
    return this.turns;
  }

  /** Tool turns appended so far (each may hold several tool results). */
  get toolRounds(): number {
    return this.toolTurns;
  }

  /** Whether the last generated turn ended with the end-of-turn token (so a tool turn may follow). */
  get lastTurnComplete(): boolean {
    return this.lastTurnClosed;
  }

  /**
   * Appends one generated assistant turn (mask 1) and returns its text without the end-of-turn token (what
   * parseToolCalls reads). A turn that stopped before <|im_end|> (budget) cannot be followed by a tool turn.
   */
  appendGenerated(ids: readonly number[]): string {
    if (this.turns > this.toolTurns) throw new ChatProtocolError('appendGenerated called twice without a tool turn in between');
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.tok.vocabSize) throw new ChatProtocolError(`generated id ${id} is outside the vocabulary (size ${this.tok.vocabSize})`);
    }
    const eotAt = ids.indexOf(this.tok.endOfTurnId);
    if (eotAt >= 0 && eotAt !== ids.length - 1) throw new ChatProtocolError(`generated ids continue after ${this.tok.endOfTurnToken} (position ${eotAt} of ${ids.length})`);
    this.idList.push(...ids);
    for (let i = 0; i < ids.length; i++) this.maskList.push(1);
    this.turns++;
    this.lastTurnClosed = ids.length > 0 && ids[ids.length - 1] === this.tok.endOfTurnId;
    const body = this.lastTurnClosed ? ids.slice(0, -1) : ids;
    const text = this.tok.decode(body);
    this.messages.push({ role: 'assistant', content: text });
    return text;
  }

  /**
   * The ids of the tool turn that would follow now (tool results, then the next generation prompt), without
   * appending them.
   */
  toolTurnIds(results: readonly ToolResponse[]): number[] {
    if (this.turns === 0 || this.turns === this.toolTurns) throw new ChatProtocolError('a tool turn must follow a generated assistant turn');
    if (!this.lastTurnClosed) throw new ChatProtocolError(`the last generated turn did not end with ${this.tok.endOfTurnToken}; no tool turn can follow`);
    if (results.length === 0) throw new ChatProtocolError('a tool turn needs at least one result');
    const eot = this.tok.endOfTurnToken;
    // Every turn so far closes with one end-of-turn token, however the template renders it; the tool turn
    // starts after the last of them (the generated turn's), which is the n-th in the render with the results.
    const closed = countOccurrences(this.tok.render(this.messages, { tools: this.tools, addGenerationPrompt: false }), eot);
    const next = this.tok.render([...this.messages, ...results.map(toToolMessage)], { tools: this.tools, addGenerationPrompt: true });
    let cut = -eot.length;
    for (let k = 0; k < closed && cut !== -1; k++) cut = next.indexOf(eot, cut + eot.length);
    if (cut < 0) {
      throw new ChatProtocolError('the template drops an end-of-turn token once a tool result follows; cannot assemble incrementally', {
        file: this.tok.files.chatTemplateSource,
      });
    }
    return this.tok.encode(next.slice(cut + eot.length));
  }

  /** Appends a tool turn (mask 0); returns its ids, or null when it would exceed maxResponseLength. */
  appendToolResults(results: readonly ToolResponse[], opts: AppendOptions = {}): number[] | null {
    const ids = this.toolTurnIds(results);
    if (opts.maxResponseLength !== undefined && this.responseLength + ids.length > opts.maxResponseLength) return null;
    this.idList.push(...ids);
    for (let i = 0; i < ids.length; i++) this.maskList.push(0);
    this.messages.push(...results.map(toToolMessage));
    this.toolTurns++;
    return ids;
  }

  appendToolResult(content: string, opts: AppendOptions = {}): number[] | null {
    return this.appendToolResults([{ content }], opts);
  }
}

function countOccurrences(text: string, needle: string): number {
  let n = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + needle.length)) n++;
  return n;
}

function toToolMessage(r: ToolResponse): ChatMessage {
  const m: ChatMessage = { role: 'tool', content: r.content };
  if (r.name !== undefined) m.name = r.name;
  if (r.toolCallId !== undefined) m.tool_call_id = r.toolCallId;
  return m;
}
