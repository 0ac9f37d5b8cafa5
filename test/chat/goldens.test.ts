// Golden tests against transformers' apply_chat_template (fixtures from test/fixtures/chat/make_goldens.py):
// rendering, token ids, the loss mask token by token, and incremental rollout assembly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeConversation, loadChatModel, RolloutBuilder } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer, ToolSpec } from '../../chat/index.ts';

interface GoldenCase {
  template: 'tiny' | 'alt';
  name: string;
  tools: ToolSpec[] | null;
  messages: ChatMessage[];
  add_generation_prompt: boolean;
  text: string;
  ids: number[];
  hf_assistant_mask?: number[];
}

const goldens = JSON.parse(readFileSync('test/fixtures/chat/goldens.json', 'utf8')) as { cases: GoldenCase[] };
const tokenizers: Record<string, ChatTokenizer> = {
  tiny: loadChatModel('recipes/models/tiny'),
  alt: loadChatModel('recipes/models/tiny', {
    chatTemplate: readFileSync('test/fixtures/chat/alt_template.jinja', 'utf8'),
    chatTemplateName: 'test/fixtures/chat/alt_template.jinja',
  }),
};

/** Maximal runs of mask-1 tokens as [start, end) index pairs. */
function runs(mask: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 1 && (i === 0 || mask[i - 1] === 0)) out.push([i, i]);
    if (mask[i] === 1) out[out.length - 1][1] = i + 1;
  }
  return out;
}

describe('chat goldens (transformers apply_chat_template)', () => {
  assert.ok(goldens.cases.length >= 20);
  for (const c of goldens.cases) {
    const tok = tokenizers[c.template];
    describe(`${c.template}/${c.name}${c.add_generation_prompt ? ' (generation prompt)' : ''}`, () => {
      test('renders the same text and token ids', () => {
        assert.equal(tok.render(c.messages, { tools: c.tools, addGenerationPrompt: c.add_generation_prompt }), c.text);
        assert.deepEqual(tok.encode(c.text), c.ids);
      });

      if (c.add_generation_prompt) {
        test('rollout prompt ids equal the rendered prompt', () => {
          const r = RolloutBuilder.fromPrompt(tok, c.messages, c.tools);
          assert.deepEqual(r.ids, c.ids);
          assert.ok(r.mask.every((m) => m === 0));
        });
        return;
      }

      test('loss mask equals transformers assistant mask, token by token', () => {
        const enc = encodeConversation(tok, c.messages, c.tools);
        assert.deepEqual(enc.ids, c.ids);
        assert.equal(enc.mask.length, c.ids.length);
        for (let i = 0; i < c.ids.length; i++) {
          assert.equal(enc.mask[i], c.hf_assistant_mask![i], `token ${i} (${JSON.stringify(tok.decode([c.ids[i]]))})`);
        }
      });

      test('each trained run is one assistant turn: content..<|im_end|>, framed by untrained prefix and newline', () => {
        const enc = encodeConversation(tok, c.messages, c.tools);
        const trained = runs(enc.mask);
        const assistants = c.messages.filter((m) => m.role === 'assistant').length;
        assert.equal(trained.length, assistants);
        let straddles = 0;
        for (const [s, e] of trained) {
          assert.equal(enc.ids[e - 1], tok.endOfTurnId, 'run ends with the end-of-turn token');
          assert.equal(tok.decode([enc.ids[e]]), '\n', 'newline after <|im_end|> stays untrained');
          const before = tok.decode(enc.ids.slice(0, s));
          if (before.endsWith('<|im_start|>assistant\n')) continue; // generation prefix stays untrained
          // Documented exception: content starting with newlines merges with the prefix's newline into one
          // token, which is trained (any overlap counts, as in transformers).
          straddles++;
          assert.ok(before.endsWith('<|im_start|>assistant'));
          assert.match(tok.decode([enc.ids[s]]), /^\n\n+$/);
        }
        assert.equal(enc.straddlingTokens, straddles);
        assert.equal(straddles, c.name === 'string_arguments_and_leading_newlines' && c.template === 'tiny' ? 2 : 0);
      });

      const followsUser = c.messages.findIndex((m, i) => m.role === 'user' && c.messages.slice(0, i).some((p) => p.role === 'assistant'));
      if (followsUser >= 0) return; // rollouts are one prompt then assistant/tool turns only
      test('incremental rollout assembly equals rendering the whole conversation', () => {
        const first = c.messages.findIndex((m) => m.role === 'assistant');
        const builder = RolloutBuilder.fromPrompt(tok, c.messages.slice(0, first), c.tools);
        const enc = encodeConversation(tok, c.messages, c.tools);
        let run = 0;
        for (let i = first; i < c.messages.length; ) {
          // What a model emits after the prompt: the assistant span's text, tokenised on its own.
          const [s, e] = enc.spans[run++];
          builder.appendGenerated(tok.encode(enc.text.slice(s, e)));
          i++;
          const results = [];
          while (i < c.messages.length && c.messages[i].role === 'tool') results.push({ content: c.messages[i++].content });
          if (results.length > 0) assert.ok(builder.appendToolResults(results));
        }
        const end = c.ids.lastIndexOf(tok.endOfTurnId) + 1;
        assert.equal(tok.decode(builder.ids), c.text.slice(0, c.text.lastIndexOf('<|im_end|>') + '<|im_end|>'.length));
        if (enc.straddlingTokens === 0) {
          assert.deepEqual(builder.ids, c.ids.slice(0, end));
          assert.deepEqual(builder.mask, c.hf_assistant_mask!.slice(0, end));
        } else {
          // The full rendering merges the prefix newline with the content's leading newlines; a rollout
          // cannot (the prompt ends at the prefix): same text, same ids up to the first such token.
          const firstStraddle = enc.mask.indexOf(1);
          assert.deepEqual(builder.ids.slice(0, firstStraddle), c.ids.slice(0, firstStraddle));
          assert.notDeepEqual(builder.ids, c.ids.slice(0, end));
        }
      });
    });
  }
});
