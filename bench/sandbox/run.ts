// Sandbox benchmark: bare python3 start vs a sandboxed tool call, and judging a 20-test stdin problem (warm fork
// server vs the naive one-bubblewrap-per-test baseline), first on a quiet machine and then with every core busy.
// Ratios are taken within one invocation (machines here are noisy). Run: node --import tsx bench/sandbox/run.ts
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { bwrapArgs } from '../../sandbox/bwrap.ts';
import { judge } from '../../rewards/code/judge.ts';
import { createLocalSandbox } from '../../sandbox/local.ts';
import { CodeInterpreter } from '../../sandbox/tool.ts';
import type { TacoGroundTruth } from '../../schemas/ground-truth.ts';

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
  await sandbox.close();
  return { label, coldStartMs, bare, sandboxed, toolCall, judge20, naive20 };
}

function burnCores(): ChildProcess[] {
  return Array.from({ length: availableParallelism() }, () => spawn(PYTHON, ['-c', 'while True: pass'], { stdio: 'ignore' }));
}

const rows = [await measure(`no extra load (host load avg ${loadavg()[0].toFixed(1)})`)];
const burners = burnCores();
try {
  rows.push(await measure(`+${burners.length} busy-loop processes (all cores busy)`));
} finally {
  for (const burner of burners) burner.kill('SIGKILL');
}

const f = (ms: number) => ms.toFixed(1);
console.log(`repeats: ${REPEATS} (judge ${JUDGE_REPEATS}); medians in ms\n`);
console.log('| condition | bare `python3 -c pass` | sandboxed run | ratio (goal <= 1.3) | tool call (echo) | judge 20 stdin tests (goal < 100 ms) | one bwrap per test (baseline) | speed-up | server cold start |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${f(r.bare)} | ${f(r.sandboxed)} | ${(r.sandboxed / r.bare).toFixed(2)} | ${f(r.toolCall)} | ${f(r.judge20)} | ${f(r.naive20)} | ${(r.naive20 / r.judge20).toFixed(1)}x | ${f(r.coldStartMs)} |`);
}
