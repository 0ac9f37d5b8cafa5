// A model's tokenizer plus its chat template: renders conversations exactly as the template does and maps
// tokens back to byte offsets of the rendered text (what the loss mask and rollout assembly are built on).
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { byteLevelLength } from './byteLevel.ts';
import { ChatProtocolError } from './errors.ts';
import { readChatModelFiles } from './modelFiles.ts';
import type { ChatModelFiles, LoadOptions } from './modelFiles.ts';
import type { ChatMessage, ToolSpec } from './types.ts';

export interface RenderOptions {
  tools?: readonly ToolSpec[] | null;
  addGenerationPrompt?: boolean;
}

type UnicodeForm = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

/** The Unicode forms a tokenizer.json normalizer applies, or null for normalizers we cannot mirror. */
function normalizerForms(normalizer: any): UnicodeForm[] | null {
  if (normalizer === null || normalizer === undefined) return [];
  if (['NFC', 'NFD', 'NFKC', 'NFKD'].includes(normalizer.type)) return [normalizer.type];
  if (normalizer.type === 'Sequence' && Array.isArray(normalizer.normalizers)) {
    const forms: UnicodeForm[] = [];
    for (const n of normalizer.normalizers) {
      const inner = normalizerForms(n);
      if (inner === null) return null;
      forms.push(...inner);
    }
    return forms;
  }
  return null;
}

export class ChatTokenizer {
  readonly files: ChatModelFiles;
  readonly tokenizer: Tokenizer;
  readonly endOfTurnToken: string;
  readonly endOfTurnId: number;
  readonly vocabSize: number;
  private readonly template: Template;
  /** UTF-8 bytes covered by each token id; -1 where the vocabulary entry is not byte-level. */
  private readonly byteLengths: Int32Array;
  private readonly normalizeForms: UnicodeForm[] | null;

  constructor(files: ChatModelFiles) {
    this.files = files;
    try {
      this.tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
    } catch (err) {
      throw new ChatProtocolError(`tokenizer cannot be built: ${(err as Error).message}`, { file: `${files.dir}/tokenizer.json` });
    }
    try {
      this.template = new Template(files.chatTemplate);
    } catch (err) {
      throw new ChatProtocolError(`chat template does not parse: ${(err as Error).message}`, { file: files.chatTemplateSource });
    }
    const vocab = files.tokenizerJson.model.vocab as Record<string, number>;
    let maxId = -1;
    for (const id of Object.values(vocab)) maxId = Math.max(maxId, id);
    for (const t of files.addedTokens) maxId = Math.max(maxId, t.id);
    this.vocabSize = maxId + 1;
    this.byteLengths = new Int32Array(this.vocabSize).fill(-1);
    for (const [token, id] of Object.entries(vocab)) this.byteLengths[id] = byteLevelLength(token);
    const encoder = new TextEncoder();
    for (const t of files.addedTokens) this.byteLengths[t.id] = encoder.encode(t.content).length;
    this.normalizeForms = normalizerForms(files.tokenizerJson.normalizer);
    this.endOfTurnToken = files.endOfTurnToken;
    this.endOfTurnId = files.addedTokens.find((t) => t.content === files.endOfTurnToken)!.id;
  }

  /** Renders messages with the model's template, passing the same variables transformers passes. */
  render(messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
    const tools = opts.tools && opts.tools.length > 0 ? opts.tools : null;
    try {
      return this.template.render({
        ...this.files.templateVars,
        messages: messages as unknown as Record<string, unknown>[],
        tools,
        add_generation_prompt: Boolean(opts.addGenerationPrompt),
        ...this.files.specialTokenStrings,
      });
    } catch (err) {
      throw new ChatProtocolError(`chat template failed to render: ${(err as Error).message}`, { file: this.files.chatTemplateSource });
    }
  }

  /** Token ids of a text, without any added BOS/EOS (as apply_chat_template(tokenize=True) does). */
  encode(text: string): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Text of token ids, special tokens kept (so decode(encode(s)) === s for byte-level tokenizers). */
  decode(ids: readonly number[]): string {
    if (ids.length === 0) return ''; // the library rejects empty input
    return this.tokenizer.decode(ids as number[], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  /** The id of a token string (added tokens included), or undefined. */
  tokenId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  /** The text as the tokenizer sees it after its normalizer (identity for the tiny tokenizer). */
  normalize(text: string): string {
    if (this.normalizeForms === null) {
      throw new ChatProtocolError(`normalizer ${JSON.stringify(this.files.tokenizerJson.normalizer?.type)} is not supported for offsets`, {
        file: `${this.files.dir}/tokenizer.json`,
        field: 'normalizer',
      });
    }
    let out = text;
    for (const form of this.normalizeForms) out = out.normalize(form);
    return out;
  }

  /**
   * Byte offset (into the normalized UTF-8 text) where each token starts, plus a final entry for the end.
   * Checks that the tokens cover `text` exactly, so a tokenizer we cannot map fails loudly instead of
   * producing a shifted mask.
   */
  tokenByteOffsets(ids: readonly number[], text: string): Int32Array {
    const starts = new Int32Array(ids.length + 1);
    let pos = 0;
    for (let i = 0; i < ids.length; i++) {
      starts[i] = pos;
      const len = ids[i] < this.vocabSize ? this.byteLengths[ids[i]] : -1;
      if (len < 0) {
        throw new ChatProtocolError(`token id ${ids[i]} is not a byte-level entry: offsets need a byte-level BPE tokenizer`, {
          file: `${this.files.dir}/tokenizer.json`,
          field: 'model.vocab',
        });
      }
      pos += len;
    }
    starts[ids.length] = pos;
    const expected = Buffer.byteLength(this.normalize(text), 'utf8');
    if (pos !== expected) {
      throw new ChatProtocolError(`tokens cover ${pos} bytes but the text has ${expected}: added-token stripping or an unsupported normalizer`, {
        file: `${this.files.dir}/tokenizer.json`,
      });
    }
    return starts;
  }

  /** Byte offset in the normalized text of a character offset in the rendered text. */
  byteOffsetOf(text: string, charOffset: number): number {
    return Buffer.byteLength(this.normalize(text.slice(0, charOffset)), 'utf8');
  }
}

export function loadChatModel(dir: string, opts: LoadOptions = {}): ChatTokenizer {
  return new ChatTokenizer(readChatModelFiles(dir, opts));
}
