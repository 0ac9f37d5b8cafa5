// Per-format field extraction and filters: one row in (read through a field getter, so JSON records and Arrow
// batches share the same code without building row objects), either a candidate or a reject reason out.
// The order of checks is the order of the reasons in docs/balance.md: format-specific gates first (cheap string
// compares on NuminaMath's flags skip decoding the long fields of rows that are dropped anyway), then the
// problem, then the ground truth.
import { domainOf } from '../../schemas/recipe.ts';
import type { SourceFilters, SourceFormat } from '../../schemas/recipe.ts';
import type { RejectReason } from '../../schemas/balance.ts';
import { GroundTruthError, parseCodeGroundTruth } from '../../schemas/ground-truth.ts';
import { parsePythonStringList } from './normalise.ts';

export type FieldGetter = (name: string) => unknown;

export interface Extracted {
  problem: string;
  starterCode: string | null;
  groundTruth: string;
  nativeId: string | null;
  difficulty: string | null;
  tags: string[] | null;
}

export type Verdict = { ok: true; row: Extracted } | { ok: false; reason: RejectReason; detail: string };

/**
 * The columns each binary format reads: `required` missing from a file is a BadInputError (a wrong file, not a
 * bad row); `optional` ones are metadata read when present. Only these are read (parquet projection skips the
 * large solution columns entirely). Every column is a string except those in `bool`; a column of another type
 * is a BadInputError naming it (the published files have these types; converting, say, an int64 answer would
 * guess at a file that is not the published one).
 */
export const COLUMNS: Partial<Record<SourceFormat, { problem: string; required: string[]; optional: string[]; bool?: string[] }>> = {
  numina_parquet: {
    problem: 'problem',
    required: ['problem', 'answer', 'question_type', 'problem_is_valid', 'solution_is_valid'],
    optional: ['synthetic', 'problem_type'],
    bool: ['synthetic'],
  },
  taco_arrow: { problem: 'question', required: ['question', 'input_output'], optional: ['starter_code', 'difficulty', 'tags', 'url'] },
  taco_parquet: { problem: 'question', required: ['question', 'input_output'], optional: ['starter_code', 'difficulty', 'tags', 'url'] },
};

const NON_VERIFIABLE = new Set(['proof', 'notfound']);

const reject = (reason: RejectReason, detail: string): Verdict => ({ ok: false, reason, detail });

function stringField(get: FieldGetter, name: string): string | undefined {
  const v = get(name);
  return typeof v === 'string' ? v : undefined;
}

function optionalText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' ? String(v) : null;
  return s === null || s.trim() === '' ? null : s;
}

function checkProblem(get: FieldGetter, field: string, f: SourceFilters): string | Verdict {
  const raw = get(field);
  if (raw === undefined || raw === null) return reject('malformed_row', `field "${field}" is missing`);
  if (typeof raw !== 'string') return reject('malformed_row', `field "${field}" is not a string`);
  if (raw.trim() === '') return reject('missing_problem', `field "${field}" is empty`);
  if (raw.length > f.max_problem_chars) return reject('problem_too_long', `${raw.length} chars > max_problem_chars ${f.max_problem_chars}`);
  return raw;
}

function checkAnswer(get: FieldGetter, f: SourceFilters): string | Verdict {
  const raw = get('answer');
  if (raw === undefined || raw === null) return reject('malformed_row', 'field "answer" is missing');
  // Omni-MATH and DeepScaleR occasionally hold a bare number; it is still a checkable answer.
  const answer = typeof raw === 'number' ? String(raw) : raw;
  if (typeof answer !== 'string') return reject('malformed_row', 'field "answer" is not a string');
  const trimmed = answer.trim();
  if (trimmed === '') return reject('empty_answer', 'answer is empty');
  if (NON_VERIFIABLE.has(trimmed.toLowerCase())) return reject('non_verifiable_answer', `answer is "${trimmed}"`);
  if (trimmed.length > f.max_answer_chars) return reject('answer_too_long', `${trimmed.length} chars > max_answer_chars ${f.max_answer_chars}`);
  return trimmed;
}

function stringList(v: unknown): string[] | null {
  if (v === null || v === undefined) return null;
  const arr = Array.isArray(v) ? v : typeof (v as { toArray?: unknown }).toArray === 'function' ? [...(v as Iterable<unknown>)] : null;
  if (!arr) return null;
  return arr.filter((x): x is string => typeof x === 'string');
}

function extractMath(format: SourceFormat, get: FieldGetter, f: SourceFilters): Verdict {
  let difficulty: string | null = null;
  let tags: string[] | null = null;
  if (format === 'numina_parquet') {
    const qt = stringField(get, 'question_type') ?? '';
    if (!f.question_types.includes(qt)) return reject('question_type', `question_type "${qt}"`);
    if (f.require_valid) {
      const pv = stringField(get, 'problem_is_valid');
      const sv = stringField(get, 'solution_is_valid');
      if (pv !== 'Yes' || sv !== 'Yes') return reject('invalid_flag', `problem_is_valid "${pv ?? ''}", solution_is_valid "${sv ?? ''}"`);
    }
    if (f.exclude_synthetic && get('synthetic') === true) return reject('synthetic', 'synthetic is true');
    const pt = optionalText(get('problem_type'));
    tags = pt ? [pt] : null;
  } else if (format === 'omni_math_jsonl') {
    const d = get('difficulty');
    if (typeof d === 'number') difficulty = String(d);
    if (f.min_difficulty !== undefined || f.max_difficulty !== undefined) {
      if (typeof d !== 'number') return reject('malformed_row', 'field "difficulty" is not a number');
      if ((f.min_difficulty !== undefined && d < f.min_difficulty) || (f.max_difficulty !== undefined && d > f.max_difficulty)) {
        return reject('difficulty_out_of_range', `difficulty ${d} outside [${f.min_difficulty ?? '-inf'}, ${f.max_difficulty ?? 'inf'}]`);
      }
    }
    tags = stringList(get('domain'));
  }
  const problem = checkProblem(get, 'problem', f);
  if (typeof problem !== 'string') return problem;
  const answer = checkAnswer(get, f);
  if (typeof answer !== 'string') return answer;
  return { ok: true, row: { problem, starterCode: null, groundTruth: answer, nativeId: null, difficulty, tags } };
}

function extractTaco(get: FieldGetter, f: SourceFilters): Verdict {
  const problem = checkProblem(get, 'question', f);
  if (typeof problem !== 'string') return problem;
  const io = get('input_output');
  if (io === null || io === undefined || (typeof io === 'string' && io.trim() === '')) return reject('no_tests', 'input_output is empty');
  if (typeof io !== 'string') return reject('malformed_row', 'field "input_output" is not a string');
  const bytes = Buffer.byteLength(io);
  if (bytes > f.max_test_bytes) return reject('tests_too_large', `input_output is ${bytes} bytes > max_test_bytes ${f.max_test_bytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(io);
  } catch (err) {
    return reject('bad_test_json', `input_output is not JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  let gt;
  try {
    gt = parseCodeGroundTruth(parsed);
  } catch (err) {
    const msg = err instanceof GroundTruthError ? err.message : String(err);
    return reject(/no test cases/u.test(msg) ? 'no_tests' : 'invalid_tests', msg.slice(0, 300));
  }
  if (gt.kind === 'leetcode') return reject('invalid_tests', 'input_output has the LeetCode shape');
  if (gt.inputs.length < f.min_tests) return reject('no_tests', `${gt.inputs.length} tests < min_tests ${f.min_tests}`);
  let groundTruth = io;
  const keys = Object.keys(parsed as object);
  const canonical = keys.length === (gt.fn_name ? 3 : 2) && keys[0] === 'inputs' && keys[1] === 'outputs';
  if ((f.max_tests > 0 && gt.inputs.length > f.max_tests) || !canonical) {
    // Re-serialise only when needed: large test strings (MBs) are kept byte-for-byte otherwise.
    const n = f.max_tests > 0 ? Math.min(f.max_tests, gt.inputs.length) : gt.inputs.length;
    const out: Record<string, unknown> = { inputs: gt.inputs.slice(0, n), outputs: gt.outputs.slice(0, n) };
    if (gt.fn_name) out.fn_name = gt.fn_name;
    groundTruth = JSON.stringify(out);
  }
  const tagText = get('tags');
  const tags = typeof tagText === 'string' ? parsePythonStringList(tagText) : null;
  const starter = optionalText(get('starter_code'));
  return {
    ok: true,
    row: { problem, starterCode: starter, groundTruth, nativeId: optionalText(get('url')), difficulty: optionalText(get('difficulty')), tags },
  };
}

function extractLeetCode(get: FieldGetter, f: SourceFilters): Verdict {
  const problem = checkProblem(get, 'problem_description', f);
  if (typeof problem !== 'string') return problem;
  const fields: Record<string, string> = {};
  for (const name of ['prompt', 'test', 'entry_point']) {
    const v = get(name);
    if (typeof v !== 'string') return reject('malformed_row', `field "${name}" is ${v === undefined || v === null ? 'missing' : 'not a string'}`);
    fields[name] = v;
  }
  if (fields.entry_point.trim() === '') return reject('malformed_row', 'field "entry_point" is empty');
  if (!/\bdef\s+check\s*\(/u.test(fields.test)) return reject('no_tests', 'test defines no check(candidate) function');
  const bytes = Buffer.byteLength(fields.test);
  if (bytes > f.max_test_bytes) return reject('tests_too_large', `test is ${bytes} bytes > max_test_bytes ${f.max_test_bytes}`);
  // The asserts in check() are the tests that run; input_output mirrors them when present.
  const io = get('input_output');
  const count = Array.isArray(io) ? io.length : (fields.test.match(/\bassert\b/gu) ?? []).length;
  if (count < f.min_tests) return reject('no_tests', `${count} tests < min_tests ${f.min_tests}`);
  const gt: Record<string, unknown> = { kind: 'leetcode', prompt: fields.prompt, test: fields.test, entry_point: fields.entry_point };
  // max_tests: check() is one function whose asserts cannot be dropped without editing code, so `test` stays
  // whole (the judge runs all of it); the row's input_output cases are carried along, trimmed to the first
  // max_tests, as the per-test record. Without max_tests the ground truth keeps its four fields only.
  if (f.max_tests > 0 && Array.isArray(io)) gt.input_output = io.slice(0, f.max_tests);
  const groundTruth = JSON.stringify(gt);
  const taskId = optionalText(get('task_id'));
  const questionId = optionalText(get('question_id'));
  return {
    ok: true,
    row: {
      problem,
      starterCode: optionalText(get('starter_code')),
      groundTruth,
      nativeId: taskId ?? questionId,
      difficulty: optionalText(get('difficulty')),
      tags: stringList(get('tags')),
    },
  };
}

export function extractRow(format: SourceFormat, get: FieldGetter, filters: SourceFilters): Verdict {
  if (domainOf(format) === 'math') return extractMath(format, get, filters);
  if (format === 'leetcode_jsonl') return extractLeetCode(get, filters);
  return extractTaco(get, filters);
}
