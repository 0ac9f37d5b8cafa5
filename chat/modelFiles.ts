// Reads a model directory's tokenizer files offline (tokenizer.json, tokenizer_config.json and the chat
// template, from chat_template.jinja or tokenizer_config.json's chat_template field), validating the fields
// the chat layer relies on so that a bad file fails here with its name, not later inside a render.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../core/canonical-json.ts';
import { ChatProtocolError } from './errors.ts';

export interface AddedTokenInfo {
  id: number;
  content: string;
  special: boolean;
}

export interface ChatModelFiles {
  dir: string;
  tokenizerJson: Record<string, any>;
  tokenizerConfig: Record<string, any>;
  chatTemplate: string;
  /** Where the template came from, for error messages: a file name or file + field. */
  chatTemplateSource: string;
  addedTokens: AddedTokenInfo[];
  eosToken: string;
  /** Token closing every ChatML turn: <|im_end|> when the vocabulary has it, else the eos token. */
  endOfTurnToken: string;
  /** Special-token strings the template may reference (bos_token, eos_token, ...). */
  specialTokenStrings: Record<string, string>;
  templateVars: Record<string, unknown>;
}

export interface LoadOptions {
  /** Template text overriding the directory's own (e.g. a second template for the same tokenizer). */
  chatTemplate?: string;
  /** Name used for the override in error messages. */
  chatTemplateName?: string;
  /** Extra template variables passed to every render (like apply_chat_template kwargs, e.g. enable_thinking). */
  templateVars?: Record<string, unknown>;
}

function readJson(path: string): Record<string, any> {
  if (!existsSync(path)) throw new ChatProtocolError('file not found', { file: path });
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ChatProtocolError(`invalid JSON (${(err as Error).message})`, { file: path });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChatProtocolError('expected a JSON object at the top level', { file: path });
  }
  return value as Record<string, any>;
}

/** Special tokens in tokenizer_config.json are either a string or an AddedToken-like {content} object. */
function tokenString(value: unknown, file: string, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as any).content === 'string') return (value as any).content;
  throw new ChatProtocolError('expected a string or an object with a string "content"', { file, field });
}

function pickTemplate(config: Record<string, any>, file: string): string | undefined {
  const t = config.chat_template;
  if (t === undefined || t === null) return undefined;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    // Named templates: the 'default' one renders conversations (HF picks it unless told otherwise).
    const named = t.find((x: any) => x && x.name === 'default');
    if (named && typeof named.template === 'string') return named.template;
    throw new ChatProtocolError('a list of named templates must contain {"name": "default", "template": ...}', { file, field: 'chat_template' });
  }
  throw new ChatProtocolError('expected a string or a list of named templates', { file, field: 'chat_template' });
}

export function readChatModelFiles(dir: string, opts: LoadOptions = {}): ChatModelFiles {
  const tokPath = join(dir, 'tokenizer.json');
  const cfgPath = join(dir, 'tokenizer_config.json');
  const tokenizerJson = readJson(tokPath);
  const tokenizerConfig = readJson(cfgPath);
  const model = tokenizerJson.model;
  if (typeof model !== 'object' || model === null) throw new ChatProtocolError('missing object', { file: tokPath, field: 'model' });
  if (typeof model.vocab !== 'object' || model.vocab === null) throw new ChatProtocolError('missing object', { file: tokPath, field: 'model.vocab' });
  const rawAdded = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(rawAdded)) throw new ChatProtocolError('expected a list', { file: tokPath, field: 'added_tokens' });
  const addedTokens: AddedTokenInfo[] = rawAdded.map((t: any, i: number) => {
    if (!t || typeof t.content !== 'string' || !Number.isInteger(t.id)) {
      throw new ChatProtocolError('each added token needs an integer id and a string content', { file: tokPath, field: `added_tokens[${i}]` });
    }
    return { id: t.id, content: t.content, special: Boolean(t.special) };
  });

  let chatTemplate: string | undefined;
  let chatTemplateSource: string;
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (opts.chatTemplate !== undefined) {
    chatTemplate = opts.chatTemplate;
    chatTemplateSource = opts.chatTemplateName ?? 'chat template override';
  } else if (existsSync(jinjaPath)) {
    chatTemplate = readFileSync(jinjaPath, 'utf8');
    chatTemplateSource = jinjaPath;
  } else {
    chatTemplate = pickTemplate(tokenizerConfig, cfgPath);
    chatTemplateSource = `${cfgPath} field chat_template`;
  }
  if (chatTemplate === undefined) {
    throw new ChatProtocolError(`no chat template: neither ${jinjaPath} nor a chat_template field`, { file: cfgPath, field: 'chat_template' });
  }

  const specialTokenStrings: Record<string, string> = {};
  for (const field of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
    const s = tokenString(tokenizerConfig[field], cfgPath, field);
    if (s !== undefined) specialTokenStrings[field] = s;
  }
  const eosToken = specialTokenStrings.eos_token;
  if (eosToken === undefined) throw new ChatProtocolError('missing eos_token', { file: cfgPath, field: 'eos_token' });
  const hasImEnd = addedTokens.some((t) => t.content === '<|im_end|>');
  const endOfTurnToken = hasImEnd ? '<|im_end|>' : eosToken;
  if (!addedTokens.some((t) => t.content === endOfTurnToken)) {
    throw new ChatProtocolError(`end-of-turn token ${endOfTurnToken} is not an added token`, { file: tokPath, field: 'added_tokens' });
  }
  const templateVars = opts.templateVars ?? {};
  return { dir, tokenizerJson, tokenizerConfig, chatTemplate, chatTemplateSource, addedTokens, eosToken, endOfTurnToken, specialTokenStrings, templateVars };
}

/**
 * What decides how a directory's model reads and writes text: the tokenizer (vocabulary, merges, added tokens,
 * normalisation), the effective chat template and the turn-ending tokens, as one canonical string. Two
 * directories with equal identities tokenise and render alike, whichever file their template sits in (an HF
 * export moves chat_template.jinja into tokenizer_config.json).
 */
export function chatModelIdentity(files: ChatModelFiles): string {
  return canonicalJson({
    tokenizer: files.tokenizerJson,
    chatTemplate: files.chatTemplate,
    eosToken: files.eosToken,
    endOfTurnToken: files.endOfTurnToken,
    specialTokens: files.specialTokenStrings,
  });
}
