// Loading model files (errors name file and field), truncation, template-rewrite detection and the
// rollout builder's contracts beyond the goldens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ChatProtocolError,
  CODE_INTERPRETER_TOOL,
  encodeConversation,
  loadChatModel,
  parseToolCalls,
  RolloutBuilder,
  UnusableConversationError,
  encodeConversationSamples,
} from '../../chat/index.ts';
import type { ChatMessage } from '../../chat/index.ts';

const TINY = 'recipes/models/tiny';
const tok = loadChatModel(TINY);

function modelDir(files: { tokenizer?: string; config?: string; template?: string | null }): string {
  const dir = mkdtempSync(join(tmpdir(), 'chat-model-'));
  writeFileSync(join(dir, 'tokenizer.json'), files.tokenizer ?? readFileSync(join(TINY, 'tokenizer.json'), 'utf8'));
  writeFileSync(join(dir, 'tokenizer_config.json'), files.config ?? readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
  if (files.template !== null) {
    if (files.template === undefined) copyFileSync(join(TINY, 'chat_template.jinja'), join(dir, 'chat_template.jinja'));
    else writeFileSync(join(dir, 'chat_template.jinja'), files.template);
  }
  return dir;
}

function expectChatError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof ChatProtocolError && pattern.test(err.message));
}

test('loader errors name the file and the field', () => {
  const dirs: string[] = [];
  try {
    const missing = join(tmpdir(), 'no-such-model-dir');
    expectChatError(() => loadChatModel(missing), /no-such-model-dir\/tokenizer\.json: file not found/);
    dirs.push(modelDir({ tokenizer: '{"model": ' }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /tokenizer\.json: invalid JSON/);
    dirs.push(modelDir({ tokenizer: '{"model": {"type": "BPE"}}' }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /tokenizer\.json, field model\.vocab: missing object/);
    const cfg = JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
    dirs.push(modelDir({ config: JSON.stringify({ ...cfg, eos_token: undefined }) }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /tokenizer_config\.json, field eos_token: missing eos_token/);
    dirs.push(modelDir({ config: JSON.stringify({ ...cfg, eos_token: 7 }) }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /field eos_token: expected a string/);
    dirs.push(modelDir({ template: null }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /field chat_template: no chat template/);
    dirs.push(modelDir({ template: null, config: JSON.stringify({ ...cfg, chat_template: 42 }) }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /field chat_template: expected a string or a list/);
    dirs.push(modelDir({ template: '{% if %}' }));
    expectChatError(() => loadChatModel(dirs.at(-1)!), /chat_template\.jinja: chat template does not parse/);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('a template in tokenizer_config.json (string or named list) renders like the .jinja file', () => {
  const cfg = JSON.parse(readFileSync(join(TINY, 'tokenizer_config.json'), 'utf8'));
  const template = readFileSync(join(TINY, 'chat_template.jinja'), 'utf8');
  const msgs: ChatMessage[] = [{ role: 'user', content: 'hi' }];
  const expected = tok.render(msgs, { tools: [CODE_INTERPRETER_TOOL], addGenerationPrompt: true });
  for (const chat_template of [template, [{ name: 'other', template: 'x' }, { name: 'default', template }]]) {
    const dir = modelDir({ template: null, config: JSON.stringify({ ...cfg, chat_template }) });
    try {
      assert.equal(loadChatModel(dir).render(msgs, { tools: [CODE_INTERPRETER_TOOL], addGenerationPrompt: true }), expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('templateVars reach the template on every render (apply_chat_template kwargs)', () => {
  const template = "{%- for m in messages -%}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' -}}{%- endfor -%}" +
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- if not enable_thinking -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- endif -%}{%- endif -%}";
  const off = loadChatModel(TINY, { chatTemplate: template, templateVars: { enable_thinking: false } });
  const on = loadChatModel(TINY, { chatTemplate: template, templateVars: { enable_thinking: true } });
  const msgs: ChatMessage[] = [{ role: 'user', content: 'q' }];
  assert.equal(off.render(msgs, { addGenerationPrompt: true }), '<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
  assert.equal(on.render(msgs, { addGenerationPrompt: true }), '<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n');
  // With the empty think block in the generation prompt only, a plain assistant turn does not continue the
  // prompt: the mask code refuses instead of guessing.
  // per_turn refuses (with its reject reason) instead of guessing; whole trains what follows the turn header.
  const withAnswer: ChatMessage[] = [...msgs, { role: 'assistant', content: 'a' }];
  assert.throws(
    () => encodeConversationSamples(off, withAnswer, null, { multiTurn: 'per_turn' }),
    (err: unknown) => err instanceof UnusableConversationError && err.reason === 'assistant turn does not continue its generation prompt' && err.where.messageIndex === 1,
  );
  const whole = encodeConversation(off, withAnswer, null);
  assert.equal(off.decode(whole.ids.filter((_, i) => whole.mask[i] === 1)), 'a<|im_end|>');
  assert.equal(encodeConversation(on, withAnswer, null).mask.filter((m) => m === 1).length, 2);
});

test('a tokenizer with an NFC normalizer (as Qwen3 has) still gets exact masks on decomposed text', () => {
  const json = JSON.parse(readFileSync(join(TINY, 'tokenizer.json'), 'utf8'));
  const dir = modelDir({ tokenizer: JSON.stringify({ ...json, normalizer: { type: 'NFC' } }) });
  try {
    const nfc = loadChatModel(dir);
    const msgs: ChatMessage[] = [
      { role: 'user', content: 'cafe\u0301 ?' },
      { role: 'assistant', content: 'cafe\u0301 = caf\u00e9 \u{1F600}' },
      { role: 'user', content: 'e\u0301e\u0301' },
      { role: 'assistant', content: 'ok e\u0301' },
    ];
    const enc = encodeConversation(nfc, msgs, null);
    const trained = nfc.decode(enc.ids.filter((_, i) => enc.mask[i] === 1));
    assert.equal(trained, 'caf\u00e9 = caf\u00e9 \u{1F600}<|im_end|>ok \u00e9<|im_end|>');
    assert.equal(nfc.decode(enc.ids), enc.text.normalize('NFC'));
    const bad = modelDir({ tokenizer: JSON.stringify({ ...json, normalizer: { type: 'Lowercase' } }) });
    try {
      expectChatError(() => encodeConversation(loadChatModel(bad), msgs, null), /field normalizer: normalizer "Lowercase" is not supported/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('render errors raised by the template name the template file', () => {
  expectChatError(() => tok.render([{ role: 'robot' as never, content: 'x' }]), /chat_template\.jinja: chat template failed to render: .*unknown role: robot/);
});

const conversation: ChatMessage[] = [
  { role: 'user', content: 'What is 6 * 7?' },
  { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'code_interpreter', arguments: { code: 'print(6 * 7)' } } }] },
  { role: 'tool', content: '42' },
  { role: 'assistant', content: 'It is \\boxed{42}.' },
];

test('right truncation keeps the first maxLength tokens and flags it', () => {
  const full = encodeConversation(tok, conversation, [CODE_INTERPRETER_TOOL]);
  assert.equal(full.truncated, false);
  assert.equal(full.fullLength, full.ids.length);
  const cut = encodeConversation(tok, conversation, [CODE_INTERPRETER_TOOL], { maxLength: full.ids.length - 5 });
  assert.equal(cut.truncated, true);
  assert.equal(cut.fullLength, full.ids.length);
  assert.deepEqual(cut.ids, full.ids.slice(0, -5));
  assert.deepEqual(cut.mask, full.mask.slice(0, -5));
  assert.equal(encodeConversation(tok, conversation, [CODE_INTERPRETER_TOOL], { maxLength: full.ids.length }).truncated, false);
  expectChatError(() => encodeConversation(tok, conversation, null, { maxLength: 0 }), /maxLength must be positive/);
});

test('a template that rewrites earlier turns (drops <think> before the last user turn): whole locates the turns, per_turn splits', () => {
  const rewriting = loadChatModel(TINY, { chatTemplate: readFileSync('test/fixtures/chat/rewriting_template.jinja', 'utf8'), chatTemplateName: 'rewriting_template.jinja' });
  const msgs: ChatMessage[] = [
    { role: 'user', content: 'a' },
    { role: 'assistant', content: '<think>hmm</think>b' },
    { role: 'user', content: 'c' },
    { role: 'assistant', content: '<think>ok</think>d' },
  ];
  const trainedText = (e: { ids: number[]; mask: number[] }): string => rewriting.decode(e.ids.filter((_, i) => e.mask[i] === 1));
  // whole: the history as the last turn sees it (first turn's think block dropped), both turns trained.
  const whole = encodeConversation(rewriting, msgs, null);
  assert.equal(trainedText(whole), 'b<|im_end|><think>ok</think>d<|im_end|>');
  assert.deepEqual(whole.turns, [1, 3]);
  // per_turn: the first turn is trained as it was generated (think kept), the second in its own sample.
  const samples = encodeConversationSamples(rewriting, msgs, null, { multiTurn: 'per_turn' });
  assert.deepEqual(samples.map((s) => s.turns), [[1], [3]]);
  assert.equal(trainedText(samples[0]), '<think>hmm</think>b<|im_end|>');
  assert.equal(trainedText(samples[1]), '<think>ok</think>d<|im_end|>');
  assert.equal(samples[1].text, whole.text);
  // The default is per_turn.
  assert.deepEqual(encodeConversationSamples(rewriting, msgs, null).map((s) => s.turns), [[1], [3]]);
});

test('rollout: tool turn keeps the newline after <|im_end|>, respects the budget, and refuses bad sequences', () => {
  const r = RolloutBuilder.fromPrompt(tok, conversation.slice(0, 1), [CODE_INTERPRETER_TOOL]);
  const turn = '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(6 * 7)"}}\n</tool_call>';
  const text = r.appendGenerated([...tok.encode(turn), tok.endOfTurnId]);
  assert.equal(text, turn);
  assert.equal(parseToolCalls(text, [CODE_INTERPRETER_TOOL]).calls.length, 1);
  assert.throws(() => r.appendGenerated([1]), ChatProtocolError);
  const toolIds = r.toolTurnIds([{ content: '42' }]);
  assert.equal(tok.decode(toolIds), '\n<|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n<|im_start|>assistant\n');
  const before = r.ids.length;
  assert.equal(r.appendToolResult('42', { maxResponseLength: r.responseLength + toolIds.length - 1 }), null);
  assert.equal(r.ids.length, before);
  assert.deepEqual(r.appendToolResult('42', { maxResponseLength: r.responseLength + toolIds.length }), toolIds);
  assert.equal(r.toolRounds, 1);
  assert.equal(r.mask.filter((m) => m === 1).length, tok.encode(turn).length + 1);

  const cutOff = RolloutBuilder.fromPrompt(tok, conversation.slice(0, 1), [CODE_INTERPRETER_TOOL]);
  cutOff.appendGenerated(tok.encode('<tool_call>\n{"name": "code_'));
  assert.equal(cutOff.lastTurnComplete, false);
  expectChatError(() => cutOff.appendToolResult('x'), /did not end with <\|im_end\|>/);
  expectChatError(() => RolloutBuilder.fromPrompt(tok, conversation.slice(0, 1), null).appendToolResult('x'), /must follow a generated assistant turn/);
  expectChatError(() => RolloutBuilder.fromPrompt(tok, conversation.slice(0, 1), null).appendGenerated([tok.vocabSize]), /outside the vocabulary/);
});
