// The code judge on hand-written TACO (stdin and call-based) and LeetCode problems, run in the real sandbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSandboxFusion } from '../../sandbox/fusion.ts';
import { judge } from '../../rewards/code/judge.ts';
import { codeOutcome, extractLastPythonBlock } from '../../rewards/code/outcome.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import type { LocalSandbox } from '../../sandbox/local.ts';
import type { LeetCodeGroundTruth, TacoGroundTruth } from '../../schemas/ground-truth.ts';
import { startFakeService } from '../sandbox/fake-fusion.ts';

const STDIN_PROBLEM: TacoGroundTruth = {
  inputs: ['1 2\n', '3 4\n', '10 -5\n', '1000000000000 1000000000000\n'],
  outputs: ['3\n', '7\n', '5\n', '2000000000000\n'],
};

const CALL_PROBLEM: TacoGroundTruth = {
  fn_name: 'min_max',
  inputs: [[[3, 1, 2]], [[5]], [[-1, -7, 4]], [[100, 200]]],
  outputs: [[[1, 3]], [[5, 5]], [-7, 4], [[100, 200]]], // TACO mixes wrapped and bare expected values
};

const LEETCODE_PROBLEM: LeetCodeGroundTruth = {
  kind: 'leetcode',
  prompt: 'from typing import *\nfrom collections import *\n\ndef pairwise_sum(a, b):\n    return a + b\n',
  test: [
    'def check(candidate):',
    '    assert candidate([2, 7, 11, 15], 9) == [0, 1]',
    '    assert candidate([3, 2, 4], 6) == [1, 2]',
    '    assert candidate([3, 3], 6) == [0, 1]',
    '    assert candidate([1, 5, 9, 20], 29) == [2, 3]',
    '',
  ].join('\n'),
  entry_point: 'Solution().twoSum',
};

const TWO_SUM = `
class Solution:
    def twoSum(self, nums: List[int], target: int) -> List[int]:
        seen = {}
        for i, x in enumerate(nums):
            if target - x in seen:
                return [seen[target - x], i]
            seen[x] = i
`;

const statuses = (r: { perTest: { status: string }[] }) => r.perTest.map((t) => t.status);

describe('code judge', () => {
  let sandbox: LocalSandbox;
  const opts = () => ({ sandbox, timeoutMs: 1000, memoryMb: 512 });

  before(async () => {
    sandbox = createLocalSandbox({ poolSize: 1, hostUidBase: 61_300 });
    await sandbox.warmUp();
  });
  after(() => sandbox.close());

  test('TACO stdin: correct, wrong, crashing, too slow and partially correct', async () => {
    const correct = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nprint(a + b)', opts());
    assert.deepEqual(statuses(correct), ['passed', 'passed', 'passed', 'passed']);
    assert.equal(correct.passFraction, 1);
    assert.equal(correct.allPass, true);

    const wrong = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nprint(a * b)', opts());
    assert.deepEqual(statuses(wrong), ['wrong_answer', 'wrong_answer', 'wrong_answer', 'wrong_answer']);
    assert.equal(wrong.passFraction, 0);

    const crashing = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nprint(a + b)\nraise RuntimeError("boom")', opts());
    assert.deepEqual(statuses(crashing), ['runtime_error', 'runtime_error', 'runtime_error', 'runtime_error']);
    assert.match(crashing.perTest[0].detail ?? '', /RuntimeError: boom/);

    const slow = await judge(STDIN_PROBLEM, 'import time\na, b = map(int, input().split())\nif a > 10**9:\n    time.sleep(60)\nprint(a + b)', opts());
    assert.deepEqual(statuses(slow), ['passed', 'passed', 'passed', 'timeout']);
    assert.equal(slow.passFraction, 0.75);
    assert.equal(slow.allPass, false);

    const partial = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nprint(abs(a) + abs(b))', opts());
    assert.deepEqual(statuses(partial), ['passed', 'passed', 'wrong_answer', 'passed']);
    assert.equal(partial.passFraction, 0.75);
  });

  test('TACO stdin: first-k tests, and stop at the first failure', async () => {
    const firstTwo = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nprint(abs(a) + abs(b))', { ...opts(), firstK: 2 });
    assert.equal(firstTwo.total, 2);
    assert.equal(firstTwo.passFraction, 1);
    const stopped = await judge(STDIN_PROBLEM, 'a, b = map(int, input().split())\nif a == 3: raise ValueError\nprint(a + b)', { ...opts(), stopOnFirstFailure: true });
    assert.deepEqual(statuses(stopped), ['passed', 'runtime_error', 'not_run', 'not_run']);
  });

  test('TACO stdin: numeric tokens compare as numbers, whitespace is not significant', async () => {
    const problem: TacoGroundTruth = { inputs: ['3\n'], outputs: ['0.333333333\n1 2 3\n'] };
    const result = await judge(problem, 'n = int(input())\nprint(1 / n)\nprint("  1   2 3  ")\nprint()', opts());
    assert.equal(result.allPass, true);
    const off = await judge(problem, 'print(0.3334)\nprint(1, 2, 3)', opts());
    assert.equal(off.allPass, false);
  });

  test('TACO call-based: Solution method or plain function, wrapped or bare expected values', async () => {
    const method = await judge(CALL_PROBLEM, 'class Solution:\n    def min_max(self, xs):\n        return (min(xs), max(xs))', opts());
    assert.deepEqual(statuses(method), ['passed', 'passed', 'passed', 'passed']);
    const plain = await judge(CALL_PROBLEM, 'def min_max(xs):\n    return [min(xs), max(xs)]', opts());
    assert.equal(plain.passFraction, 1);

    const wrong = await judge(CALL_PROBLEM, 'def min_max(xs):\n    return [max(xs), min(xs)]', opts());
    assert.deepEqual(statuses(wrong), ['wrong_answer', 'passed', 'wrong_answer', 'wrong_answer']);

    const crashing = await judge(CALL_PROBLEM, 'def min_max(xs):\n    return xs[5]', opts());
    assert.deepEqual(statuses(crashing), ['runtime_error', 'runtime_error', 'runtime_error', 'runtime_error']);
    assert.match(crashing.perTest[0].detail ?? '', /IndexError/);

    const slow = await judge(CALL_PROBLEM, 'def min_max(xs):\n    while len(xs) == 2: pass\n    return [min(xs), max(xs)]', opts());
    assert.deepEqual(statuses(slow), ['passed', 'passed', 'passed', 'timeout']);
    assert.equal(slow.passFraction, 0.75);

    const missing = await judge(CALL_PROBLEM, 'def other(xs):\n    return 1', opts());
    assert.equal(missing.passFraction, 0);
    assert.match(missing.perTest[0].detail ?? '', /min_max/);
  });

  test('LeetCode: prompt + solution + test, each assert is a test case', async () => {
    const correct = await judge(LEETCODE_PROBLEM, TWO_SUM, opts());
    assert.deepEqual(statuses(correct), ['passed', 'passed', 'passed', 'passed']);
    assert.equal(correct.allPass, true);

    const partial = await judge(LEETCODE_PROBLEM, 'class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]', opts());
    assert.deepEqual(statuses(partial), ['passed', 'wrong_answer', 'passed', 'wrong_answer']);
    assert.equal(partial.passFraction, 0.5);
    assert.equal(partial.allPass, false);

    const crashing = await judge(LEETCODE_PROBLEM, 'class Solution:\n    def twoSum(self, nums, target):\n        return nums[10]', opts());
    assert.deepEqual(statuses(crashing), ['runtime_error', 'runtime_error', 'runtime_error', 'runtime_error']);

    const brokenImport = await judge(LEETCODE_PROBLEM, 'import does_not_exist\n' + TWO_SUM, opts());
    assert.deepEqual(statuses(brokenImport), ['runtime_error', 'runtime_error', 'runtime_error', 'runtime_error']);
    assert.equal(brokenImport.passFraction, 0);

    const slow = await judge(LEETCODE_PROBLEM, TWO_SUM.replace('seen = {}', 'seen = {}\n        while target == 6: pass'), opts());
    assert.deepEqual(statuses(slow), ['passed', 'timeout', 'timeout', 'passed']);
    assert.equal(slow.passFraction, 0.5);
  });

  test('LeetCode: exiting early or forging output does not pass', async () => {
    const exits = await judge(LEETCODE_PROBLEM, 'import os\nos._exit(0)', opts());
    assert.equal(exits.passFraction, 0);
    const forged = await judge(LEETCODE_PROBLEM, 'import os\nfor fd in range(3, 1000):\n    try: os.write(fd, b\'{"case": 0, "status": "passed"}\\n\')\n    except OSError: pass\nos._exit(0)', opts());
    assert.equal(forged.passFraction, 0);
  });

  test('codeOutcome: last python block, parse check in the sandbox, fraction or binary reward', async () => {
    const gt = JSON.stringify(STDIN_PROBLEM);
    const fenced = (code: string) => `Let me think.\n\`\`\`python\nprint("draft")\n\`\`\`\nFinal:\n\`\`\`python\n${code}\n\`\`\`\n`;
    assert.equal(extractLastPythonBlock(fenced('x = 1')), 'x = 1\n');

    assert.deepEqual(await codeOutcome('no code here', gt, opts()), { status: 'scored', score: -1, reason: 'no_code_block' });
    const unparseable = await codeOutcome(fenced('def f(:\n  pass'), gt, opts());
    assert.equal(unparseable.score, -1);
    assert.equal(unparseable.reason, 'unparseable');

    const full = await codeOutcome(fenced('a, b = map(int, input().split())\nprint(a + b)'), gt, opts());
    assert.equal(full.score, 1);
    const partialCode = fenced('a, b = map(int, input().split())\nprint(abs(a) + abs(b))');
    assert.equal((await codeOutcome(partialCode, gt, opts())).score, 0.75);
    assert.equal((await codeOutcome(partialCode, gt, { ...opts(), rewardMode: 'binary' })).score, 0);
    assert.equal((await codeOutcome(fenced(TWO_SUM), LEETCODE_PROBLEM, opts())).score, 1);
    const wrongRuns = await codeOutcome(fenced('print(0)'), gt, opts());
    assert.equal(wrongRuns.score, 0); // runs but wrong: 0, not -1

    const badTruth = await codeOutcome(fenced('print(1)'), '{"inputs": [1]}', opts());
    assert.equal(badTruth.score, -1);
    assert.equal(badTruth.reason, 'invalid_ground_truth');
    assert.match(badTruth.detail ?? '', /"outputs" must be an array/);
  });

  test('tests spread over several servers keep their order and verdicts', async () => {
    const wide = createLocalSandbox({ poolSize: 2, hostUidBase: 61_320 });
    try {
      await wide.warmUp();
      const problem: TacoGroundTruth = {
        inputs: Array.from({ length: 12 }, (_, i) => `${i}\n`),
        outputs: Array.from({ length: 12 }, (_, i) => `${i * i}\n`),
      };
      const result = await judge(problem, 'n = int(input())\nif n == 9: raise SystemExit(3)\nprint(n * n if n != 2 else 5)', { sandbox: wide, timeoutMs: 2000 });
      assert.deepEqual(
        statuses(result),
        ['passed', 'passed', 'wrong_answer', 'passed', 'passed', 'passed', 'passed', 'passed', 'passed', 'runtime_error', 'passed', 'passed'],
      );
      assert.equal(result.passed, 10);
    } finally {
      await wide.close();
    }
  });

  test('codeOutcome: a sandbox failure is a sandbox_error to retry, never a score', async () => {
    const dead = createLocalSandbox({ poolSize: 1, hostUidBase: 61_310 });
    await dead.close();
    const outcome = await codeOutcome('```python\nprint(3)\n```', STDIN_PROBLEM, { sandbox: dead, timeoutMs: 1000 });
    assert.equal(outcome.status, 'sandbox_error');
    assert.equal(outcome.score, null);
    assert.match(outcome.detail ?? '', /closed/);
  });
});

describe('code judge over SandboxFusion (one request per test)', () => {
  let local: LocalSandbox;
  let stopService: () => void;
  let remote: ReturnType<typeof createSandboxFusion>;
  const opts = () => ({ sandbox: remote, timeoutMs: 1000, memoryMb: 512 });

  before(async () => {
    local = createLocalSandbox({ poolSize: 2, hostUidBase: 61_330 });
    const service = await startFakeService(local);
    stopService = () => service.server.close();
    remote = createSandboxFusion({ baseUrl: service.baseUrl, concurrency: 4, retries: 0 });
  });
  after(async () => {
    stopService();
    await local.close();
  });

  test('same verdicts as the local sandbox for TACO stdin, call-based and LeetCode', async () => {
    const slow = await judge(STDIN_PROBLEM, 'import time\na, b = map(int, input().split())\nif a > 10**9:\n    time.sleep(60)\nprint(a + b)', opts());
    assert.deepEqual(statuses(slow), ['passed', 'passed', 'passed', 'timeout']);
    const call = await judge(CALL_PROBLEM, 'def min_max(xs):\n    return [max(xs), min(xs)]', opts());
    assert.deepEqual(statuses(call), ['wrong_answer', 'passed', 'wrong_answer', 'wrong_answer']);
    const method = await judge(CALL_PROBLEM, 'class Solution:\n    def min_max(self, xs):\n        print("noise")\n        return (min(xs), max(xs))', opts());
    assert.equal(method.passFraction, 1);
    const partial = await judge(LEETCODE_PROBLEM, 'class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]', opts());
    assert.deepEqual(statuses(partial), ['passed', 'wrong_answer', 'passed', 'wrong_answer']);
    const crashing = await judge(LEETCODE_PROBLEM, 'import does_not_exist', opts());
    assert.deepEqual(statuses(crashing), ['runtime_error', 'runtime_error', 'runtime_error', 'runtime_error']);
  });

  test('codeOutcome works remotely', async () => {
    assert.equal((await codeOutcome('```python\ndef f(:\n```', STDIN_PROBLEM, opts())).reason, 'unparseable');
    assert.equal((await codeOutcome('```python\n' + TWO_SUM + '```', LEETCODE_PROBLEM, opts())).score, 1);
  });
});
