// The five balance sources in their real published layouts, filled with demo problems:
//   deepscaler/deepscaler.json                   JSON array {problem, answer, solution}
//   omni_math/test.jsonl                         JSONL {domain, difficulty, problem, solution, answer, source}
//   numina_math/data/train-00000-of-00001.parquet  NuminaMath-1.5 columns ("Yes"/"No" validity flags)
//   taco/train/data-00000-of-00001.arrow         Arrow IPC stream, TACO's 17 string columns (input_output JSON)
//   leetcode/LeetCodeDataset-train.jsonl         LeetCodeDataset rows (prompt, test with check(), entry_point)
// Solutions are the programs the SFT traces use, so every row is internally consistent.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Bool, Field, Schema, Utf8 } from 'apache-arrow';
import { sourceSchema } from '../../schemas/recipe.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import type { CodeProblem, DemoProblem, DemoSource, MathProblem } from './families.ts';
import { arrowStreamBytes, parquetBytes } from './tables.ts';

/** Where each source's file goes under the data directory, and its recipe format. */
export const SOURCE_FILES: Record<DemoSource, { format: SourceConfig['format']; file: string }> = {
  deepscaler: { format: 'deepscaler_json', file: 'deepscaler/deepscaler.json' },
  omni_math: { format: 'omni_math_jsonl', file: 'omni_math/test.jsonl' },
  numina_math: { format: 'numina_parquet', file: 'numina_math/data/train-00000-of-00001.parquet' },
  taco_code: { format: 'taco_arrow', file: 'taco/train/data-00000-of-00001.arrow' },
  leetcode_code: { format: 'leetcode_jsonl', file: 'leetcode/LeetCodeDataset-train.jsonl' },
};

const solutionText = (p: DemoProblem): string => `Run the program:\n${p.program}\nIt prints ${p.output.trim()}.`;
const jsonl = (rows: unknown[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

function deepscaler(ps: MathProblem[]): string {
  const rows = ps.map((p) => `  ${JSON.stringify({ problem: p.problem, answer: p.answer, solution: solutionText(p) }, null, 1).replace(/\n/gu, '\n  ')}`);
  return `[\n${rows.join(',\n')}\n]\n`;
}

function omni(ps: MathProblem[]): string {
  return jsonl(ps.map((p, i) => ({
    domain: ['Mathematics -> Algebra -> Other'], difficulty: 1 + (i % 4) / 2, problem: p.problem, solution: solutionText(p), answer: p.answer, source: 'agentrl_demo',
  })));
}

const NUMINA_SCHEMA = new Schema([
  ...['problem', 'solution', 'answer', 'problem_type', 'question_type', 'problem_is_valid', 'solution_is_valid', 'source'].map((n) => new Field(n, new Utf8(), true)),
  new Field('synthetic', new Bool(), true),
]);

function numina(ps: MathProblem[]): Uint8Array {
  const rows = ps.map((p) => ({
    problem: p.problem, solution: solutionText(p), answer: p.answer, problem_type: 'Number Theory', question_type: 'math-word-problem',
    problem_is_valid: 'Yes', solution_is_valid: 'Yes', source: 'agentrl_demo', synthetic: true,
  }));
  return parquetBytes(NUMINA_SCHEMA, rows, 64, 'snappy');
}

const TACO_SCHEMA = new Schema([
  'question', 'solutions', 'starter_code', 'input_output', 'difficulty', 'raw_tags', 'name', 'source', 'tags', 'skill_types', 'url',
  'Expected Auxiliary Space', 'time_limit', 'date', 'picture_num', 'memory_limit', 'Expected Time Complexity',
].map((n) => new Field(n, new Utf8(), true)));

function tacoInputOutput(p: CodeProblem): string {
  const t = p.tests;
  if (t.kind === 'taco_stdin') return JSON.stringify({ inputs: t.inputs, outputs: t.outputs });
  if (t.kind === 'taco_call') return JSON.stringify({ fn_name: t.fnName, inputs: t.inputs, outputs: t.outputs });
  throw new Error(`demo: ${p.family} is not a TACO problem`);
}

function taco(ps: CodeProblem[]): Uint8Array {
  const rows = ps.map((p, i) => ({
    question: p.problem, solutions: JSON.stringify([p.solution]), starter_code: p.starterCode ?? '', input_output: tacoInputOutput(p),
    difficulty: 'EASY', raw_tags: "['math']", name: `demo-${i}`, source: 'agentrl_demo', tags: "['Math']", skill_types: "['Math']",
    url: `https://example.invalid/demo/taco/${i}`, 'Expected Auxiliary Space': null, time_limit: '1 seconds', date: '2025-01-01',
    picture_num: '0', memory_limit: '256 megabytes', 'Expected Time Complexity': null,
  }));
  return arrowStreamBytes(TACO_SCHEMA, rows, 64);
}

export const LEETCODE_PROMPT = 'import math\nfrom typing import *\nfrom collections import *\n\ninf = float("inf")\n';

function leetcode(ps: CodeProblem[]): string {
  return jsonl(ps.map((p, i) => {
    if (p.tests.kind !== 'leetcode') throw new Error(`demo: ${p.family} is not a LeetCode problem`);
    return {
      task_id: `demo-${p.family.replace(/_/gu, '-')}-${i}`, question_id: 1 + i, difficulty: 'Easy', tags: ['Array', 'Math'],
      problem_description: p.problem, starter_code: p.starterCode, estimated_date: '2025-01-01', prompt: LEETCODE_PROMPT,
      completion: p.solution, entry_point: p.tests.entryPoint, test: p.tests.test, input_output: p.tests.cases,
      query: `${p.problem}\n\n${p.starterCode}`, response: `\`\`\`python\n${p.solution}\n\`\`\``,
    };
  }));
}

async function put(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

/** Writes each source's problems to its file under `dir`; returns the recipe's source configs (paths relative to dir). */
export async function writeBalanceFiles(dir: string, bySource: Record<DemoSource, DemoProblem[]>): Promise<SourceConfig[]> {
  const math = (s: DemoSource): MathProblem[] => bySource[s].filter((p): p is MathProblem => p.kind === 'math');
  const code = (s: DemoSource): CodeProblem[] => bySource[s].filter((p): p is CodeProblem => p.kind === 'code');
  await put(join(dir, SOURCE_FILES.deepscaler.file), deepscaler(math('deepscaler')));
  await put(join(dir, SOURCE_FILES.omni_math.file), omni(math('omni_math')));
  await put(join(dir, SOURCE_FILES.numina_math.file), numina(math('numina_math')));
  await put(join(dir, SOURCE_FILES.taco_code.file), taco(code('taco_code')));
  await put(join(dir, SOURCE_FILES.leetcode_code.file), leetcode(code('leetcode_code')));
  return (Object.keys(SOURCE_FILES) as DemoSource[]).map((name) => sourceSchema.parse({ name, format: SOURCE_FILES[name].format, files: [SOURCE_FILES[name].file] }));
}
