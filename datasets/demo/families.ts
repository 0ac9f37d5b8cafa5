// The demo's task families: problems a tiny model cannot solve in its head but can solve by writing a short,
// fixed-shape Python program for the code_interpreter tool, each with an exact answer (math) or tests (code).
// Numbers stay short and every family has one program shape, so that a model of a few hundred thousand
// parameters can learn to copy the problem's numbers into the program and the program's output into its answer.
import type { Rng } from '../../engine/rng.ts';

/** Which balance source (and so which published format) a family's problems are written to. */
export type DemoSource = 'deepscaler' | 'omni_math' | 'numina_math' | 'taco_code' | 'leetcode_code';

export interface MathProblem {
  kind: 'math';
  family: string;
  source: DemoSource;
  problem: string;
  /** The program the SFT trace sends to the tool. */
  program: string;
  /** Exactly what the program prints (computed here with exact integer arithmetic; the tests run it). */
  output: string;
  answer: string;
}

/** TACO stdin, TACO call-based (fn_name) or LeetCode check() tests, in each dataset's own layout. */
export type CodeTests =
  | { kind: 'taco_stdin'; inputs: string[]; outputs: string[] }
  | { kind: 'taco_call'; fnName: string; inputs: unknown[][]; outputs: unknown[][] }
  | { kind: 'leetcode'; entryPoint: string; test: string; cases: { input: string; output: string }[] };

export interface CodeProblem {
  kind: 'code';
  family: string;
  source: DemoSource;
  problem: string;
  starterCode: string | null;
  program: string;
  output: string;
  /** The final solution the SFT trace ends with (inside a ```python block). */
  solution: string;
  tests: CodeTests;
}

export type DemoProblem = MathProblem | CodeProblem;

const between = (rng: Rng, lo: number, hi: number): number => lo + rng.int(hi - lo + 1);

function mathProblem(family: string, source: DemoSource, problem: string, program: string, value: bigint): MathProblem {
  return { kind: 'math', family, source, problem, program, output: `${value}\n`, answer: String(value) };
}

function product(rng: Rng): MathProblem {
  const a = between(rng, 10, 99);
  const b = between(rng, 100, 999);
  return mathProblem('product', 'deepscaler', `What is ${a} times ${b}?`, `print(${a} * ${b})`, BigInt(a) * BigInt(b));
}

function counting(rng: Rng): MathProblem {
  const n = between(rng, 100, 999);
  const a = between(rng, 2, 9);
  let b = between(rng, 2, 9);
  if (b === a) b = a === 9 ? 2 : a + 1;
  let count = 0n;
  for (let k = 1; k <= n; k++) if (k % a === 0 || k % b === 0) count++;
  return mathProblem(
    'counting',
    'deepscaler',
    `How many integers from 1 to ${n} are divisible by ${a} or by ${b}?`,
    `print(sum(1 for k in range(1, ${n} + 1) if k % ${a} == 0 or k % ${b} == 0))`,
    count,
  );
}

function series(rng: Rng): MathProblem {
  const a = between(rng, 1, 40);
  const n = between(rng, a + 10, 120);
  const p = between(rng, 2, 3);
  let sum = 0n;
  for (let k = BigInt(a); k <= BigInt(n); k++) sum += k ** BigInt(p);
  return mathProblem('series', 'omni_math', `Find the sum of k^${p} for k from ${a} to ${n}.`, `print(sum(k ** ${p} for k in range(${a}, ${n} + 1)))`, sum);
}

function modular(rng: Rng): MathProblem {
  const a = between(rng, 11, 99);
  const e = between(rng, 10, 99);
  const m = between(rng, 11, 99);
  let r = 1n;
  for (let i = 0; i < e; i++) r = (r * BigInt(a)) % BigInt(m);
  return mathProblem('modular', 'numina_math', `What is the remainder when ${a}^${e} is divided by ${m}?`, `print(pow(${a}, ${e}, ${m}))`, r);
}

/** A list operation with a constant k: its wording, its Python expression over `nums`, and its exact value. */
interface ListOp {
  name: string;
  camel: string;
  text: (k: number) => string;
  expr: (k: number) => string;
  value: (nums: number[], k: number) => number;
}

const LIST_OPS: ListOp[] = [
  {
    name: 'count_multiples', camel: 'countMultiples', text: (k) => `the number of integers divisible by ${k}`,
    expr: (k) => `sum(1 for x in nums if x % ${k} == 0)`, value: (xs, k) => xs.filter((x) => x % k === 0).length,
  },
  {
    name: 'sum_greater', camel: 'sumGreater', text: (k) => `the sum of the integers greater than ${k}`,
    expr: (k) => `sum(x for x in nums if x > ${k})`, value: (xs, k) => xs.filter((x) => x > k).reduce((s, x) => s + x, 0),
  },
  {
    name: 'count_smaller', camel: 'countSmaller', text: (k) => `the number of integers smaller than ${k}`,
    expr: (k) => `sum(1 for x in nums if x < ${k})`, value: (xs, k) => xs.filter((x) => x < k).length,
  },
  {
    name: 'scaled_max', camel: 'scaledMax', text: (k) => `the largest integer times ${k}`,
    expr: (k) => `max(nums) * ${k}`, value: (xs, k) => Math.max(...xs) * k,
  },
];

const numbers = (rng: Rng): number[] => Array.from({ length: between(rng, 3, 6) }, () => between(rng, 1, 60));
const pyList = (xs: number[]): string => `[${xs.join(', ')}]`;

/** The tool program of every code family: the operation as a function, run on the problem's example. */
function exampleProgram(op: ListOp, k: number, example: number[]): string {
  return `def solve(nums):\n    return ${op.expr(k)}\n\nprint(solve(${pyList(example)}))`;
}

function listCase(rng: Rng): { op: ListOp; k: number; example: number[]; tests: number[][] } {
  const op = LIST_OPS[rng.int(LIST_OPS.length)];
  const k = between(rng, 2, 9);
  return { op, k, example: numbers(rng), tests: Array.from({ length: 4 }, () => numbers(rng)) };
}

function tacoStdin(rng: Rng): CodeProblem {
  const { op, k, example, tests } = listCase(rng);
  const stdin = (xs: number[]): string => `${xs.length}\n${xs.join(' ')}\n`;
  const problem =
    `The first line of the input holds n, the second line n integers. Print ${op.text(k)}.\n\n` +
    `Example input:\n${stdin(example)}Example output:\n${op.value(example, k)}`;
  return {
    kind: 'code', family: `stdin_${op.name}`, source: 'taco_code', problem, starterCode: null,
    program: exampleProgram(op, k, example), output: `${op.value(example, k)}\n`,
    solution: `n = int(input())\nnums = list(map(int, input().split()))\nprint(${op.expr(k)})`,
    tests: { kind: 'taco_stdin', inputs: tests.map(stdin), outputs: tests.map((xs) => `${op.value(xs, k)}\n`) },
  };
}

function tacoCall(rng: Rng): CodeProblem {
  const { op, k, example, tests } = listCase(rng);
  const problem = `Write a function ${op.name}(nums) that returns ${op.text(k)} in the list nums.\n\nExample: ${op.name}(${pyList(example)}) returns ${op.value(example, k)}.`;
  return {
    kind: 'code', family: `call_${op.name}`, source: 'taco_code', problem, starterCode: `def ${op.name}(nums):\n\t`,
    program: exampleProgram(op, k, example), output: `${op.value(example, k)}\n`,
    solution: `def ${op.name}(nums):\n    return ${op.expr(k)}`,
    // TACO wraps each call-based expected value in a one-element list.
    tests: { kind: 'taco_call', fnName: op.name, inputs: tests.map((xs) => [xs]), outputs: tests.map((xs) => [op.value(xs, k)]) },
  };
}

function leetcode(rng: Rng): CodeProblem {
  const { op, k, example, tests } = listCase(rng);
  const problem = `Given an integer array nums, return ${op.text(k)}.\n\nExample: nums = ${pyList(example)} gives ${op.value(example, k)}.`;
  const header = `class Solution:\n    def ${op.camel}(self, nums: List[int]) -> int:\n`;
  const cases = tests.map((xs) => ({ input: `nums = ${pyList(xs)}`, output: String(op.value(xs, k)) }));
  return {
    kind: 'code', family: `leetcode_${op.name}`, source: 'leetcode_code', problem, starterCode: `${header}        `,
    program: exampleProgram(op, k, example), output: `${op.value(example, k)}\n`,
    solution: `${header}        return ${op.expr(k)}`,
    tests: {
      kind: 'leetcode', entryPoint: `Solution().${op.camel}`, cases,
      test: `def check(candidate):\n${cases.map((c) => `    assert candidate(${c.input}) == ${c.output}\n`).join('')}`,
    },
  };
}

/** Every family with the balance source it belongs to; a source's problems cycle through its families. */
export const FAMILIES: Record<DemoSource, ((rng: Rng) => DemoProblem)[]> = {
  deepscaler: [product, counting],
  omni_math: [series],
  numina_math: [modular],
  taco_code: [tacoStdin, tacoCall],
  leetcode_code: [leetcode],
};

export const DEMO_SOURCES = Object.keys(FAMILIES) as DemoSource[];

/** The distinguishing text of a problem (what dedupe and split-disjointness compare). */
export const problemKey = (p: DemoProblem): string => `${p.source}\u0000${p.problem}`;

/**
 * `count` distinct problems of `source` from `rng`, none of whose keys is in `exclude` (so that held-out splits
 * never share a problem with training). The keys drawn are added to `exclude`.
 */
export function drawProblems(rng: Rng, source: DemoSource, count: number, exclude: Set<string>): DemoProblem[] {
  const families = FAMILIES[source];
  const out: DemoProblem[] = [];
  for (let tries = 0; out.length < count; tries++) {
    if (tries > count * 50) throw new Error(`demo: cannot draw ${count} distinct ${source} problems`);
    const p = families[out.length % families.length](rng);
    const key = problemKey(p);
    if (exclude.has(key)) continue;
    exclude.add(key);
    out.push(p);
  }
  return out;
}
