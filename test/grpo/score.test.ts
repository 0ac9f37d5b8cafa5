// The reward of one trajectory, with the real sandbox for code rows: the text the strict math rule reads (last
// 100 code points of the whole response), TCR on executed rounds, the overlong penalty, code pass fractions
// (TACO call-based and LeetCode), a program without the entry point (0, not -1), a missing or unparseable block
// (-1), a broken sandbox (retried then an error, never a score), and rows whose ground truth cannot be scored.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalSandbox, createSandboxFusion } from '../../sandbox/index.ts';
import type { LocalSandbox } from '../../sandbox/index.ts';
import { parseRewardSettings } from '../../schemas/reward.ts';
import { NON_RETRYABLE_ERRORS } from '../../schemas/errors.ts';
import { strictBoxedMatch } from '../../rewards/index.ts';
import { checkScorable, ScoringInfrastructureError, scoreTrajectory, strictWindow } from '../../rewards/score.ts';
import type { ScoreInput } from '../../rewards/score.ts';

const strict = parseRewardSettings({});
const verify = parseRewardSettings({ math: { mode: 'verify' } });

const math = (responseText: string, extra: Partial<ScoreInput> = {}): ScoreInput => ({
  uid: 'm1', dataSource: 'deepscaler', ability: 'math', groundTruth: '42', responseText, toolRounds: 0, responseLength: 100, ...extra,
});

describe('math', () => {
  test('strict reads the last 100 code points of the whole response (not UTF-16 units)', async () => {
    const emojiTail = '\\boxed{42}' + '\u{1F600}'.repeat(90); // 100 code points, 190 UTF-16 units
    assert.equal(strictBoxedMatch(emojiTail, '42').score, -1, 'a UTF-16 window would miss the box');
    assert.equal(strictWindow(emojiTail), emojiTail);
    assert.equal((await scoreTrajectory(math(emojiTail), { settings: strict })).outcome, 1);
    const tooFar = '\\boxed{42}' + 'x'.repeat(91); // the box starts 101 code points from the end
    const s = await scoreTrajectory(math(tooFar), { settings: strict });
    assert.equal(s.outcome, -1);
    assert.match(s.detail, /no \\\\boxed/);
  });

  test('strict is exact string equality; verify accepts an equivalent answer', async () => {
    const r = math('so \\boxed{\\frac12}', { groundTruth: '\\frac{1}{2}' });
    assert.equal((await scoreTrajectory(r, { settings: strict })).outcome, -1);
    const v = await scoreTrajectory(r, { settings: verify });
    assert.equal(v.outcome, 1);
    assert.equal(v.correct, true);
  });

  test('a wrong answer with k executed tool rounds scores min(-0.6, -1 + 0.1k); a right one ignores rounds', async () => {
    for (let k = 0; k <= 6; k++) {
      const s = await scoreTrajectory(math('\\boxed{41}', { toolRounds: k }), { settings: strict });
      assert.equal(s.total, Math.round(Math.min(-0.6, -1 + 0.1 * k) * 1e12) / 1e12, `k=${k}`);
      assert.equal(s.tcr, Math.round((Math.min(-0.6, -1 + 0.1 * k) + 1) * 1e12) / 1e12);
      assert.equal(s.correct, false);
    }
    const right = await scoreTrajectory(math('\\boxed{42}', { toolRounds: 3 }), { settings: strict });
    assert.deepEqual([right.outcome, right.tcr, right.total, right.correct], [1, 0, 1, true]);
  });

  test('the overlong penalty counts every response token and applies to right answers', async () => {
    const s = await scoreTrajectory(math('\\boxed{42}', { responseLength: 8980 }), { settings: strict });
    assert.deepEqual([s.outcome, s.overlong, s.total], [1, -0.5, 0.5]);
  });
});

const CALL_GT = JSON.stringify({ fn_name: 'add', inputs: [[1, 2], [3, 4], [5, 6], [0, 0]], outputs: [3, 7, 11, 0] });
const LEET_GT = JSON.stringify({
  kind: 'leetcode',
  prompt: 'from typing import *\n',
  test: 'def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(2, 2) == 4\n',
  entry_point: 'Solution().plus',
});
const code = (responseText: string, groundTruth = CALL_GT, dataSource = 'taco_code'): ScoreInput => ({
  uid: 'c1', dataSource, ability: 'code', groundTruth, responseText, toolRounds: 2, responseLength: 300,
});
const block = (src: string) => `Here it is.\n\`\`\`python\n${src}\n\`\`\``;

describe('code (real sandbox)', () => {
  let sandbox: LocalSandbox;
  before(() => {
    sandbox = createLocalSandbox({ poolSize: 1 });
  });
  after(() => sandbox.close());
  const opts = () => ({ settings: strict, sandbox, codeTimeoutMs: 5000, codeMemoryMb: 512 });

  test('pass fraction of TACO call-based and LeetCode tests', async () => {
    const all = await scoreTrajectory(code(block('def add(a, b):\n    return a + b')), opts());
    assert.deepEqual([all.outcome, all.correct, all.total], [1, true, 1]);
    const half = await scoreTrajectory(code(block('def add(a, b):\n    return a + b if a < 3 else 0')), opts());
    assert.deepEqual([half.outcome, half.correct], [0.5, false]); // passes (1, 2) and (0, 0)
    assert.equal(JSON.parse(half.detail).passed, 2);
    const leet = await scoreTrajectory(code(block('class Solution:\n    def plus(self, a, b):\n        return a + b'), LEET_GT, 'leetcode_code'), opts());
    assert.deepEqual([leet.outcome, leet.correct], [1, true]);
  });

  test('a program that runs but lacks the entry point scores 0 (judged, every test failed), not -1', async () => {
    const s = await scoreTrajectory(code(block('def plus(a, b):\n    return a + b')), opts());
    assert.deepEqual([s.outcome, s.tcr, s.total, s.correct], [0, 0, 0, false]);
    assert.equal(JSON.parse(s.detail).reason, 'judged');
    const l = await scoreTrajectory(code(block('x = 1'), LEET_GT, 'leetcode_code'), opts());
    assert.equal(l.outcome, 0);
  });

  test('a missing or unparseable code block is -1, and TCR counts the rounds', async () => {
    const none = await scoreTrajectory(code('I could not solve it.'), opts());
    assert.deepEqual([none.outcome, none.tcr, none.total], [-1, 0.2, -0.8]);
    assert.equal(JSON.parse(none.detail).reason, 'no_code_block');
    const bad = await scoreTrajectory(code(block('def add(a, b) return a + b')), opts());
    assert.equal(bad.outcome, -1);
    assert.equal(JSON.parse(bad.detail).reason, 'unparseable');
  });

  test('a sandbox that keeps failing is retried and reported as an error, never scored', async () => {
    const dead = createSandboxFusion({ baseUrl: 'http://127.0.0.1:9', retries: 0, backoffMs: 1 });
    await assert.rejects(
      scoreTrajectory(code(block('def add(a, b):\n    return a + b')), { settings: strict, sandbox: dead, infraAttempts: 2 }),
      (err: Error) => err instanceof ScoringInfrastructureError && /row c1: the sandbox failed while judging \(2 attempts\)/.test(err.message) && !NON_RETRYABLE_ERRORS.includes(err.name as never),
    );
  });
});

test('rows that cannot be scored are refused naming the uid, as non-retryable bad input', () => {
  const check = (row: Parameters<typeof checkScorable>[0], re: RegExp) =>
    assert.throws(() => checkScorable(row), (e: Error) => re.test(e.message) && NON_RETRYABLE_ERRORS.includes(e.name as never));
  check({ uid: 'u7', dataSource: 'taco_code', ability: 'code', groundTruth: '{"inputs": [1]' }, /row u7: reward_model\.ground_truth/);
  check({ uid: 'u8', dataSource: 'taco_code', ability: 'code', groundTruth: '{"inputs": [], "outputs": [1]}' }, /row u8/);
  check({ uid: 'u9', dataSource: 'deepscaler', ability: 'math', groundTruth: '' }, /row u9: reward_model\.ground_truth is empty/);
  check({ uid: 'u10', dataSource: 'gpqa', ability: 'science', groundTruth: 'A' }, /row u10: no reward for ability "science"/);
  assert.equal(checkScorable({ uid: 'u11', dataSource: 'leetcode_code', ability: '', groundTruth: LEET_GT }).domain, 'code');
});
