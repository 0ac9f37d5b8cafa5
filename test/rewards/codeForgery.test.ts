// Forgery and timing attacks on the code judge, run in the real sandbox. Each hostile solution must score exactly
// what an honest solution with the same output scores (usually 0), the host survives, and the next honest
// solution on the same sandbox is judged correctly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { judge } from '../../rewards/code/judge.ts';
import { codeOutcome } from '../../rewards/code/outcome.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';
import type { LeetCodeGroundTruth, TacoGroundTruth } from '../../schemas/ground-truth.ts';

const LEETCODE: LeetCodeGroundTruth = {
  kind: 'leetcode',
  prompt: 'from typing import *\n',
  test: [
    'def check(candidate):',
    '    assert candidate(nums = [1, 2, 3]) == [3, 2, 1]',
    '    assert candidate(nums = [5]) == [5]',
    '    assert candidate(nums = []) == []',
    '',
  ].join('\n'),
  entry_point: 'Solution().reverse',
};
const HONEST = 'class Solution:\n    def reverse(self, nums: List[int]) -> List[int]:\n        return nums[::-1]\n';

const LINKED: LeetCodeGroundTruth = {
  kind: 'leetcode',
  prompt: [
    'from typing import *',
    'class ListNode:',
    '    def __init__(self, val=0, next=None):',
    '        self.val = val',
    '        self.next = next',
    'def list_node(values):',
    '    head = None',
    '    for v in reversed(values):',
    '        head = ListNode(v, head)',
    '    return head',
    'def is_same_list(a, b):',
    '    while a and b:',
    '        if a.val != b.val: return False',
    '        a, b = a.next, b.next',
    '    return a is None and b is None',
    '',
  ].join('\n'),
  test: 'def check(candidate):\n    assert is_same_list(candidate(head = list_node([1, 2, 3])), list_node([3, 2, 1]))\n    assert is_same_list(candidate(head = list_node([7])), list_node([7]))\n',
  entry_point: 'Solution().reverseList',
};

const CALL: TacoGroundTruth = { fn_name: 'pair', inputs: [[1], [2]], outputs: [[1, 2], [[2, 3]]] };

describe('forgery: the verdict never depends on code the candidate can reach', () => {
  let sandbox: LocalSandbox;
  const opts = () => ({ sandbox, timeoutMs: 2000, memoryMb: 512 });
  const fraction = async (problem: LeetCodeGroundTruth | TacoGroundTruth, code: string) => (await judge(problem, code, opts())).passFraction;

  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: 61_600 });
    await sandbox.warmUp();
  });
  after(() => sandbox.close());

  const afterEach = async () => {
    assert.equal(await fraction(LEETCODE, HONEST), 1);
    assert.equal(await fraction(CALL, 'def pair(x):\n    return [x, x + 1]'), 1);
  };

  test('an answer whose __eq__ is always true is not plain data: wrong', async () => {
    const code = 'class Anything(list):\n    def __eq__(self, other): return True\n    def __ne__(self, other): return False\nclass Solution:\n    def reverse(self, nums): return Anything()\n';
    const result = await judge(LEETCODE, code, opts());
    assert.deepEqual(result.perTest.map((t) => t.status), ['wrong_answer', 'wrong_answer', 'wrong_answer']);
    assert.match(result.perTest[0].detail ?? '', /not plain builtin data/);
    assert.equal(await fraction(CALL, 'class E:\n    def __eq__(self, o): return True\n    def __repr__(self): return "[1, 2]"\ndef pair(x):\n    return E()'), 0);
    await afterEach();
  });

  test('patched builtins (compile, exec, eval, json, AssertionError) change nothing outside the process', async () => {
    const code = [
      'import builtins, json',
      '_compile = builtins.compile',
      'builtins.compile = lambda src, *a, **k: _compile(src.replace("assert", "pass") if isinstance(src, str) else src, *a, **k)',
      'builtins.eval = lambda *a, **k: [3, 2, 1]',
      'json.dumps = lambda *a, **k: \'{"case": 0, "passed": true}\'',
      'class AssertionError(Exception): pass',
      'builtins.AssertionError = AssertionError',
      'class Solution:\n    def reverse(self, nums): return [0]',
    ].join('\n');
    // The patches break only the candidate's own process (its calls no longer run): nothing passes.
    const result = await judge(LEETCODE, code, opts());
    assert.equal(result.passFraction, 0);
    assert.ok(result.perTest.every((t) => t.status === 'runtime_error' || t.status === 'wrong_answer'));
    await afterEach();
  });

  test('forged reports on every descriptor and in the frame, then os._exit(0): no pass', async () => {
    const code = [
      'import os, sys, gc',
      'lines = [b\'{"case": 0, "passed": true}\\n\', b\'{"call": 0, "value": ["l", [["i", "3"], ["i", "2"], ["i", "1"]]]}\\n\']',
      'nonce = None',
      'for f in gc.get_objects():',
      '    if isinstance(f, dict) and "nonce" in f: nonce = f["nonce"]',
      'for fd in range(3, 1024):',
      '    for line in lines:',
      '        try: os.write(fd, line)',
      '        except OSError: pass',
      'os._exit(0)',
    ].join('\n');
    assert.equal(await fraction(LEETCODE, code), 0);
    assert.equal(await fraction(CALL, code), 0);
    await afterEach();
  });

  test('a forged harness failure is the candidate\'s own failure, never a sandbox_error to retry', async () => {
    const code = [
      'import json, os, sys',
      'nonces, frame = set(), sys._getframe()',
      'while frame:',
      '    if isinstance(frame.f_locals.get("nonce"), str): nonces.add(frame.f_locals["nonce"])',
      '    frame = frame.f_back',
      'assert nonces, "the harness nonce was not found"',
      'for fd in range(3, 1024):',
      '    for nonce in nonces | {"x"}:',
      '        try: os.write(fd, (json.dumps({"nonce": nonce, "harnessError": "forged"}) + "\\n").encode())',
      '        except OSError: pass',
      'os._exit(125)',
    ].join('\n');
    for (const problem of [LEETCODE, CALL, { inputs: ['1\n'], outputs: ['1\n'] }]) {
      const result = await judge(problem, code, opts());
      assert.equal(result.sandboxError, false);
      assert.equal(result.passFraction, 0);
      const outcome = await codeOutcome('```python\n' + code + '\n```', problem, opts());
      assert.equal(outcome.status, 'scored');
      assert.equal(outcome.score, 0);
    }
    await afterEach();
  });

  test('expected values are not in the candidate process (no check() to read)', async () => {
    const code = [
      'import gc, sys',
      'found = [o for o in gc.get_objects() if getattr(o, "__name__", "") == "check" or (isinstance(o, str) and "[3, 2, 1]" in o)]',
      'frames = []',
      'f = sys._getframe()',
      'while f: frames.append(f.f_code.co_name); f = f.f_back',
      'class Solution:',
      '    def reverse(self, nums):',
      '        return [len(found), 0, 0]',
    ].join('\n');
    const result = await judge(LEETCODE, code, opts());
    assert.equal(result.passFraction, 0);
    await afterEach();
  });

  test('linked-list answers are compared as values by the judge; a cyclic or fake list is wrong', async () => {
    const honest = 'class Solution:\n    def reverseList(self, head):\n        prev = None\n        while head:\n            head.next, prev, head = prev, head, head.next\n        return prev\n';
    assert.equal(await fraction(LINKED, honest), 1);
    const cyclic = 'class Solution:\n    def reverseList(self, head):\n        head.next = head\n        return head\n';
    assert.equal(await fraction(LINKED, cyclic), 0);
    const fake = 'class ListNode:\n    def __init__(self, v): self.val, self.next = v, None\n    def __eq__(self, o): return True\nclass Solution:\n    def reverseList(self, head):\n        return ListNode(3)\n';
    assert.equal(await fraction(LINKED, fake), 0);
    await afterEach();
  });

  test('TACO call-based: a bare list expected value is unwrapped only when it has one element', async () => {
    // outputs[0] = [1, 2] is the answer itself: 1 (its first element) must not pass.
    const first = await judge(CALL, 'def pair(x):\n    return x if x == 1 else [x, x + 1]', opts());
    assert.deepEqual(first.perTest.map((t) => t.status), ['wrong_answer', 'passed']);
    await afterEach();
  });
});

describe('timing: per-test limits are enforced from outside', () => {
  let sandbox: LocalSandbox;
  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: 61_610 });
    await sandbox.warmUp();
  });
  after(() => sandbox.close());

  test('blocking or cancelling SIGALRM does not dodge the per-test time-out', async () => {
    const code = [
      'import signal',
      'signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])',
      'signal.signal(signal.SIGALRM, signal.SIG_IGN)',
      'signal.setitimer(signal.ITIMER_REAL, 0)',
      'class Solution:',
      '    def reverse(self, nums):',
      '        while len(nums) == 1: pass',
      '        return nums[::-1]',
    ].join('\n');
    const t0 = performance.now();
    const result = await judge(LEETCODE, code, { sandbox, timeoutMs: 1000 });
    assert.deepEqual(result.perTest.map((t) => t.status), ['passed', 'timeout', 'passed']);
    assert.ok(performance.now() - t0 < 8000);
    assert.equal((await judge(LEETCODE, HONEST, { sandbox, timeoutMs: 1000 })).passFraction, 1);
  });

  test('codeOutcome keeps its reward values for honest LeetCode solutions: correct, partial, crashing, slow', async () => {
    const fenced = (code: string) => '```python\n' + code + '\n```';
    const opts = { sandbox, timeoutMs: 1000 };
    assert.equal((await codeOutcome(fenced(HONEST), LEETCODE, opts)).score, 1);
    const partial = 'class Solution:\n    def reverse(self, nums): return nums\n';
    assert.equal((await codeOutcome(fenced(partial), LEETCODE, opts)).score, 2 / 3);
    assert.equal((await codeOutcome(fenced(partial), LEETCODE, { ...opts, rewardMode: 'binary' })).score, 0);
    assert.equal((await codeOutcome(fenced('class Solution:\n    def reverse(self, nums): return nums[9]'), LEETCODE, opts)).score, 0);
    const slow = 'class Solution:\n    def reverse(self, nums):\n        while not nums: pass\n        return nums[::-1]';
    assert.equal((await codeOutcome(fenced(slow), LEETCODE, opts)).score, 2 / 3);
  });
});
