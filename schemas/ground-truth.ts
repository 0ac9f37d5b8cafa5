// The JSON carried in reward_model.ground_truth for code problems. Two shapes share one string column:
//  - TACO style (verl's own format, kept byte-compatible so existing verl parquet files work unchanged):
//      {"inputs": [...], "outputs": [...]}             stdin/stdout tests
//      {"inputs": [...], "outputs": [...], "fn_name": "f"}  call-based tests (each input = list of positional args)
//  - LeetCode (our own, tagged so it can never be mistaken for TACO):
//      {"kind": "leetcode", "prompt": "<imports + helpers>", "test": "def check(candidate): ...",
//       "entry_point": "Solution().twoSum"}
// The balance stage emits exactly these; the code judge (sandbox/judge.ts) consumes them.

/** One stdin/stdout or call-based test set in TACO's input_output layout. */
export interface TacoGroundTruth {
  kind?: 'taco';
  /** stdin tests: each a string (or a list of lines); call-based: each a list of positional arguments. */
  inputs: unknown[];
  /** stdin tests: expected stdout (string or list of lines); call-based: expected return value. */
  outputs: unknown[];
  /** Present for call-based problems: the function (or `class Solution` method) to call. */
  fn_name?: string;
}

/** A LeetCodeDataset problem: run prompt + solution + test, then check(<entry_point>). */
export interface LeetCodeGroundTruth {
  kind: 'leetcode';
  /** Imports and helper definitions the dataset puts before the solution. */
  prompt: string;
  /** Source that defines `check(candidate)` with asserts. */
  test: string;
  /** Python expression for the candidate, e.g. "Solution().twoSum". */
  entry_point: string;
}

export type CodeGroundTruth = TacoGroundTruth | LeetCodeGroundTruth;

/** A clear error naming where the bad ground truth came from and which field is wrong. */
export class GroundTruthError extends Error {
  constructor(where: string, detail: string) {
    super(`invalid code ground truth${where ? ` (${where})` : ''}: ${detail}`);
    this.name = 'GroundTruthError';
  }
}

/**
 * Parse and validate a ground-truth JSON string (or an already-parsed object).
 * `where` names the file/row for error messages, e.g. "rl.parquet row 17".
 */
export function parseCodeGroundTruth(raw: string | unknown, where = ''): CodeGroundTruth {
  let value: unknown = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new GroundTruthError(where, `not JSON (${(err as Error).message})`);
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GroundTruthError(where, 'expected a JSON object');
  }
  const obj = value as Record<string, unknown>;
  if (obj.kind === 'leetcode') {
    for (const field of ['prompt', 'test', 'entry_point'] as const) {
      if (typeof obj[field] !== 'string') throw new GroundTruthError(where, `field "${field}" must be a string`);
    }
    if ((obj.entry_point as string).trim() === '') throw new GroundTruthError(where, 'field "entry_point" is empty');
    return { kind: 'leetcode', prompt: obj.prompt as string, test: obj.test as string, entry_point: obj.entry_point as string };
  }
  if (obj.kind !== undefined && obj.kind !== 'taco') {
    throw new GroundTruthError(where, `unknown field "kind" value ${JSON.stringify(obj.kind)} (expected "leetcode" or absent)`);
  }
  if (!Array.isArray(obj.inputs)) throw new GroundTruthError(where, 'field "inputs" must be an array');
  if (!Array.isArray(obj.outputs)) throw new GroundTruthError(where, 'field "outputs" must be an array');
  if (obj.inputs.length !== obj.outputs.length) {
    throw new GroundTruthError(where, `"inputs" has ${obj.inputs.length} entries but "outputs" has ${obj.outputs.length}`);
  }
  if (obj.inputs.length === 0) throw new GroundTruthError(where, 'no test cases ("inputs" is empty)');
  const result: TacoGroundTruth = { inputs: obj.inputs, outputs: obj.outputs };
  if (obj.fn_name !== undefined && obj.fn_name !== null) {
    if (typeof obj.fn_name !== 'string' || obj.fn_name.trim() === '') {
      throw new GroundTruthError(where, 'field "fn_name" must be a non-empty string when present');
    }
    result.fn_name = obj.fn_name;
    obj.inputs.forEach((input, i) => {
      if (!Array.isArray(input)) throw new GroundTruthError(where, `call-based "inputs[${i}]" must be a list of positional arguments`);
    });
  }
  return result;
}

export function isLeetCode(gt: CodeGroundTruth): gt is LeetCodeGroundTruth {
  return gt.kind === 'leetcode';
}
