// Sandbox benchmark: bare python3 start vs a sandboxed tool call, and judging a 20-test stdin problem (warm fork
// server vs the naive one-bubblewrap-per-test baseline), LeetCode judging outside the candidate's process vs the
// old check()-inside-the-candidate design, first on a quiet machine and then with every core busy.
// Ratios are taken within one invocation (machines here are noisy). Run: node --import tsx bench/sandbox/run.ts
// With BENCH_OLD_TREE=<dir holding an earlier checkout's sandbox/, core/, schemas/> the same invocation also times
// that tree's sandbox and judge (20 stdin tests, the LeetCode problem) beside the current ones.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { bwrapArgs } from '../../sandbox/bwrap.ts';
import { judge } from '../../rewards/code/judge.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import { CodeInterpreter } from '../../sandbox/tool.ts';
import type { LeetCodeGroundTruth, TacoGroundTruth } from '../../schemas/ground-truth.ts';

const REPEATS = Number(process.env.BENCH_REPEATS ?? 30);
const JUDGE_REPEATS = Number(process.env.BENCH_JUDGE_REPEATS ?? 10);
const PYTHON = '/usr/bin/python3';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function runProcess(argv: string[], stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv[0]} exited ${code}`))));
    child.stdin.on('error', () => {}); // a process may exit before reading its stdin
    child.stdin.end(stdin);
  });
}

async function timeIt(repeats: number, fn: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

const SUM_PROBLEM: TacoGroundTruth = {
  inputs: Array.from({ length: 20 }, (_, i) => `${i} ${i * 7}\n`),
  outputs: Array.from({ length: 20 }, (_, i) => `${i * 8}\n`),
};
const SUM_SOLUTION = 'a, b = map(int, input().split())\nprint(a + b)';

const TWO_SUM: LeetCodeGroundTruth = {
  kind: 'leetcode',
  prompt: 'from typing import *\n',
  test: 'def check(candidate):\n' + Array.from({ length: 8 }, (_, i) => `    assert candidate([${100 + i}, 1, 2, 7, 11], ${107 + i}) == [0, 3]\n`).join(''),
  entry_point: 'Solution().twoSum',
};
const TWO_SUM_SOLUTION = 'class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n                return [seen[target - x], i]\n            seen[x] = i\n';
// The old design ran check() inside the candidate's process: one process, asserts and expected values included.
const TWO_SUM_IN_ONE_PROCESS = `${TWO_SUM.prompt}\n${TWO_SUM_SOLUTION}\n${TWO_SUM.test}\ncheck(${TWO_SUM.entry_point})\n`;

// Baseline for judging: what a judge without a fork server does, one fresh bubblewrap + python3 per test.
function oneShotSandboxArgv(code: string): string[] {
  const inner = ['bwrap', ...bwrapArgs({ tmpfsBytes: 64 << 20, shmBytes: 16 << 20 }), PYTHON, '-I', '-c', code];
  const isRoot = process.getuid?.() === 0;
  return isRoot ? ['setpriv', '--reuid', '61900', '--regid', '61900', '--clear-groups', '--inh-caps=-all', '--', ...inner] : inner;
}

async function measure(label: string) {
  const sandbox = createLocalSandbox({ poolSize: Math.min(2, availableParallelism()), hostUidBase: 61_800 });
  const t0 = performance.now();
  await sandbox.warmUp();
  const coldStartMs = performance.now() - t0;
  const tool = new CodeInterpreter({ sandbox, timeoutMs: 10_000 });

  const bare = await timeIt(REPEATS, () => runProcess([PYTHON, '-c', 'pass']));
  const sandboxed = await timeIt(REPEATS, () => sandbox.run({ code: 'pass', timeoutMs: 10_000 }));
  const toolCall = await timeIt(REPEATS, () => tool.execute({ code: 'x = sum(range(1000))\nx' }));
  const judge20 = await timeIt(JUDGE_REPEATS, async () => {
    const result = await judge(SUM_PROBLEM, SUM_SOLUTION, { sandbox, timeoutMs: 10_000 });
    if (!result.allPass) throw new Error('benchmark solution failed');
  });
  const naive20 = await timeIt(Math.max(3, Math.floor(JUDGE_REPEATS / 3)), async () => {
    for (const input of SUM_PROBLEM.inputs) await runProcess(oneShotSandboxArgv(SUM_SOLUTION), input as string);
  });
  const leetcode = await timeIt(JUDGE_REPEATS, async () => {
    const result = await judge(TWO_SUM, TWO_SUM_SOLUTION, { sandbox, timeoutMs: 10_000 });
    if (!result.allPass) throw new Error('benchmark LeetCode solution failed');
  });
  const leetcodeOld = await timeIt(JUDGE_REPEATS, async () => {
    const result = await sandbox.run({ code: TWO_SUM_IN_ONE_PROCESS, timeoutMs: 10_000 });
    if (result.status !== 'finished') throw new Error(`in-process check failed: ${result.stderr}`);
  });
  await sandbox.close();
  return { label, coldStartMs, bare, sandboxed, toolCall, judge20, naive20, leetcode, leetcodeOld };
}

function burnCores(): ChildProcess[] {
  return Array.from({ length: availableParallelism() }, () => spawn(PYTHON, ['-c', 'while True: pass'], { stdio: 'ignore' }));
}

interface JudgeModules {
  createLocalSandbox: (options: Record<string, unknown>) => { warmUp(): Promise<void>; close(): Promise<void> };
  judge: (problem: unknown, solution: string, options: Record<string, unknown>) => Promise<{ allPass: boolean }>;
}

/** The same judging workloads on this tree and on an earlier one, interleaved in one invocation. */
async function compareWithOldTree(oldTree: string): Promise<void> {
  const old: JudgeModules = {
    createLocalSandbox: (await import(`${oldTree}/sandbox/local.ts`)).createLocalSandbox,
    judge: (await import(`${oldTree}/sandbox/judge.ts`)).judge,
  };
  const current: JudgeModules = { createLocalSandbox: createLocalSandbox as unknown as JudgeModules['createLocalSandbox'], judge: judge as unknown as JudgeModules['judge'] };
  const trees = [['this tree', current], [`earlier tree (${oldTree})`, old]] as const;
  const sandboxes = trees.map(([, m], i) => m.createLocalSandbox({ poolSize: Math.min(2, availableParallelism()), hostUidBase: 61_850 + 10 * i }));
  await Promise.all(sandboxes.map((s) => s.warmUp()));
  const time = async (m: JudgeModules, sandbox: unknown, problem: unknown, solution: string) =>
    timeIt(JUDGE_REPEATS, async () => {
      if (!(await m.judge(problem, solution, { sandbox, timeoutMs: 10_000 })).allPass) throw new Error('benchmark solution failed');
    });
  const results: string[][] = trees.map(([label]) => [label]);
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < trees.length; i++) {
      results[i].push(f(await time(trees[i][1], sandboxes[i], SUM_PROBLEM, SUM_SOLUTION)), f(await time(trees[i][1], sandboxes[i], TWO_SUM, TWO_SUM_SOLUTION)));
    }
  }
  await Promise.all(sandboxes.map((s) => s.close()));
  console.log(`\nsame invocation, interleaved (host load avg ${loadavg()[0].toFixed(1)}); medians in ms, two rounds`);
  console.log('| tree | judge 20 stdin tests | LeetCode 8 asserts | judge 20 stdin tests (round 2) | LeetCode 8 asserts (round 2) |');
  console.log('|---|---|---|---|---|');
  for (const row of results) console.log(`| ${row.join(' | ')} |`);
}

const f = (ms: number) => ms.toFixed(1);
const rows = [await measure(`no extra load (host load avg ${loadavg()[0].toFixed(1)})`)];
const burners = burnCores();
try {
  rows.push(await measure(`+${burners.length} busy-loop processes (all cores busy)`));
} finally {
  for (const burner of burners) burner.kill('SIGKILL');
}

console.log(`repeats: ${REPEATS} (judge ${JUDGE_REPEATS}); medians in ms\n`);
console.log('| condition | bare `python3 -c pass` | sandboxed run | ratio (goal <= 1.3) | tool call (echo) | judge 20 stdin tests (goal < 100 ms) | one bwrap per test (baseline) | speed-up | LeetCode 8 asserts, judged outside | check() in the candidate process (old) | ratio | server cold start |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${f(r.bare)} | ${f(r.sandboxed)} | ${(r.sandboxed / r.bare).toFixed(2)} | ${f(r.toolCall)} | ${f(r.judge20)} | ${f(r.naive20)} | ${(r.naive20 / r.judge20).toFixed(1)}x | ${f(r.leetcode)} | ${f(r.leetcodeOld)} | ${(r.leetcode / r.leetcodeOld).toFixed(1)}x | ${f(r.coldStartMs)} |`);
}

if (process.env.BENCH_OLD_TREE) await compareWithOldTree(process.env.BENCH_OLD_TREE);
