// Hermes tool-call parsing: every malformed case has its documented outcome (docs/chat-protocol.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CODE_INTERPRETER_TOOL, codeFromArguments, parseToolCalls } from '../../chat/index.ts';
import type { ToolSpec } from '../../chat/index.ts';

const tools: ToolSpec[] = [CODE_INTERPRETER_TOOL];
const wrap = (body: string) => `<tool_call>\n${body}\n</tool_call>`;

test('no tool_call tag: final answer, content kept', () => {
  const p = parseToolCalls('The answer is \\boxed{4}.', tools);
  assert.equal(p.action, 'final');
  assert.deepEqual(p.outcomes, []);
  assert.deepEqual(p.calls, []);
  assert.equal(p.content, 'The answer is \\boxed{4}.');
});

test('one valid call with arguments as an object', () => {
  const p = parseToolCalls(`Let me run it.\n${wrap('{"name": "code_interpreter", "arguments": {"code": "print(1)"}}')}`, tools);
  assert.equal(p.action, 'tools');
  assert.deepEqual(p.calls, [{ name: 'code_interpreter', arguments: { code: 'print(1)' } }]);
  assert.equal(p.outcomes.length, 1);
  assert.equal(p.content, 'Let me run it.');
  assert.equal(p.trailingText, '');
});

test('arguments given as a JSON string are decoded', () => {
  const p = parseToolCalls(wrap(JSON.stringify({ name: 'code_interpreter', arguments: JSON.stringify({ code: 'x=1' }) })), tools);
  assert.deepEqual(p.calls, [{ name: 'code_interpreter', arguments: { code: 'x=1' } }]);
});

test('each malformed case yields one error outcome with a fixed message and no exception', () => {
  const cases: Array<[string, string, RegExp]> = [
    [wrap('{"name": "code_interpreter", "arguments": {"code": "print(1)"}'), 'invalid_json', /not valid JSON/],
    [wrap(''), 'invalid_json', /not valid JSON/],
    [wrap('[1, 2]'), 'not_an_object', /must be a JSON object/],
    [wrap('{"arguments": {"code": "1"}}'), 'missing_name', /no "name"/],
    [wrap('{"name": "", "arguments": {"code": "1"}}'), 'missing_name', /no "name"/],
    [wrap('{"name": "code_interpreter"}'), 'missing_arguments', /no "arguments"/],
    [wrap('{"name": "code_interpreter", "parameters": {"code": "1"}}'), 'missing_arguments', /no "arguments"/],
    [wrap('{"name": "code_interpreter", "arguments": "print(1)"}'), 'invalid_arguments', /string that is not valid JSON/],
    [wrap('{"name": "code_interpreter", "arguments": [1]}'), 'invalid_arguments', /must be a JSON object/],
    [wrap('{"name": "web_search", "arguments": {"q": "x"}}'), 'unknown_tool', /unknown tool "web_search". Available tools: code_interpreter/],
    [wrap('{"name": "code_interpreter", "arguments": {}}'), 'bad_arguments', /missing required argument "code"/],
    [wrap('{"name": "code_interpreter", "arguments": {"code": 5}}'), 'bad_arguments', /must be of type string, got integer/],
    ['<tool_call>\n{"name": "code_interpreter", "arguments": {"code": "pri', 'unterminated', /no closing <\/tool_call>/],
  ];
  for (const [text, problem, message] of cases) {
    const p = parseToolCalls(text, tools);
    assert.equal(p.action, 'tools', text);
    assert.equal(p.calls.length, 0, text);
    assert.equal(p.outcomes.length, 1, text);
    const o = p.outcomes[0];
    assert.equal(o.ok, false);
    if (!o.ok) {
      assert.equal(o.problem, problem, text);
      assert.match(o.message, message);
      assert.match(o.message, /^Error: /);
    }
  }
});

test('several calls: the first valid one runs, later valid ones get over_limit, invalid ones keep their error', () => {
  const text = [
    wrap('{"name": "code_interpreter", "arguments": {"code": "a"}}'),
    wrap('not json'),
    wrap('{"name": "code_interpreter", "arguments": {"code": "b"}}'),
  ].join('\n');
  const p = parseToolCalls(text, tools);
  assert.deepEqual(p.calls, [{ name: 'code_interpreter', arguments: { code: 'a' } }]);
  assert.deepEqual(
    p.outcomes.map((o) => (o.ok ? 'ok' : o.problem)),
    ['ok', 'invalid_json', 'over_limit'],
  );
  const two = parseToolCalls(text, tools, { maxCalls: 2 });
  assert.deepEqual(two.calls.map((c) => c.arguments.code), ['a', 'b']);
});

test('malformedJson "skip" reproduces verl: bad JSON dropped, turn with nothing left is final', () => {
  const p = parseToolCalls(wrap('{oops'), tools, { malformedJson: 'skip' });
  assert.equal(p.action, 'final');
  assert.deepEqual(p.outcomes, []);
  const mixed = parseToolCalls(`${wrap('{oops')}${wrap('{"name": "code_interpreter", "arguments": {"code": "1"}}')}`, tools, { malformedJson: 'skip' });
  assert.equal(mixed.action, 'tools');
  assert.equal(mixed.calls.length, 1);
  const unterminated = parseToolCalls('<tool_call>{"name"', tools, { malformedJson: 'skip' });
  assert.equal(unterminated.action, 'final');
});

test('text after the call: call still runs, trailing text reported and kept in content', () => {
  const p = parseToolCalls(`${wrap('{"name": "code_interpreter", "arguments": {"code": "1"}}')}\nI expect 1.`, tools);
  assert.equal(p.calls.length, 1);
  assert.equal(p.trailingText, 'I expect 1.');
  assert.equal(p.content, 'I expect 1.');
});

test('a stray closing tag without an opening one is plain content', () => {
  const p = parseToolCalls('done </tool_call>', tools);
  assert.equal(p.action, 'final');
  assert.equal(p.content, 'done </tool_call>');
});

test('codeFromArguments unwraps fenced python blocks', () => {
  assert.equal(codeFromArguments({ code: 'print(1)' }), 'print(1)');
  assert.equal(codeFromArguments({ code: '```python\nx = 1\nprint(x)\n```' }), 'x = 1\nprint(x)');
  assert.equal(codeFromArguments({ code: 'Here:\n```py\na = 2\n```\nand\n```\nprint(a)\n```\nthanks' }), 'a = 2\nprint(a)');
  assert.equal(codeFromArguments({ code: '```python\nprint(3)' }), 'print(3)');
  assert.equal(codeFromArguments({ code: '```bash\nls\n```' }), '```bash\nls\n```');
  assert.deepEqual(codeFromArguments({}), { error: 'Error: code_interpreter needs a string argument "code".' });
});
