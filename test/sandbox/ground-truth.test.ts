// The code ground-truth JSON shared by the balance stage (which writes it) and the judge (which reads it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroundTruthError, isLeetCode, parseCodeGroundTruth } from '../../schemas/ground-truth.ts';

test('TACO stdin, TACO call-based and LeetCode shapes parse', () => {
  assert.deepEqual(parseCodeGroundTruth('{"inputs": ["1\\n"], "outputs": ["2\\n"]}'), { inputs: ['1\n'], outputs: ['2\n'] });
  const call = parseCodeGroundTruth({ inputs: [[1, 2]], outputs: [3], fn_name: 'add' });
  assert.equal(!isLeetCode(call) && call.fn_name, 'add');
  const lc = parseCodeGroundTruth(JSON.stringify({ kind: 'leetcode', prompt: 'import math', test: 'def check(candidate): pass', entry_point: 'Solution().f' }));
  assert.ok(isLeetCode(lc));
  assert.equal(lc.entry_point, 'Solution().f');
  assert.deepEqual(parseCodeGroundTruth('{"inputs": ["x"], "outputs": ["y"], "fn_name": null}'), { inputs: ['x'], outputs: ['y'] });
});

test('bad ground truth names the place and the field', () => {
  const bad: [unknown, RegExp][] = [
    ['{"inputs": [1', /rl\.parquet row 7.*not JSON/],
    ['[1, 2]', /expected a JSON object/],
    ['{"inputs": ["1"], "outputs": []}', /"inputs" has 1 entries but "outputs" has 0/],
    ['{"inputs": [], "outputs": []}', /no test cases/],
    ['{"outputs": ["1"]}', /field "inputs" must be an array/],
    ['{"inputs": ["1"], "outputs": ["1"], "fn_name": 3}', /"fn_name" must be a non-empty string/],
    ['{"inputs": ["1"], "outputs": ["1"], "fn_name": "f"}', /call-based "inputs\[0\]" must be a list/],
    ['{"kind": "leetcode", "prompt": "", "test": "x"}', /field "entry_point" must be a string/],
    ['{"kind": "codeforces", "inputs": [], "outputs": []}', /unknown field "kind" value "codeforces"/],
  ];
  for (const [raw, message] of bad) {
    assert.throws(() => parseCodeGroundTruth(raw, 'rl.parquet row 7'), (err: unknown) => {
      assert.ok(err instanceof GroundTruthError);
      assert.match(err.message, /\(rl\.parquet row 7\)/);
      assert.match(err.message, message);
      return true;
    });
  }
});
