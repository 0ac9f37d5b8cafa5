// How a program's output is compared with the expected one, in the spirit of LiveCodeBench / DeepCoder:
// whole output stripped, split into lines, each line stripped; lines must match one for one, either as text or
// token by token where numeric tokens compare as numbers (integers exactly, others within a tolerance).

export interface CompareOptions {
  /** Absolute tolerance for non-integer numeric tokens. Default 1e-6. */
  absTol?: number;
  /** Relative tolerance for non-integer numeric tokens. Default 1e-6. */
  relTol?: number;
}

const INTEGER = /^[+-]?\d+$/;
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function tokensMatch(actual: string, expected: string, absTol: number, relTol: number): boolean {
  if (actual === expected) return true;
  if (INTEGER.test(actual) && INTEGER.test(expected)) return BigInt(actual) === BigInt(expected);
  if (!DECIMAL.test(actual) || !DECIMAL.test(expected)) return false;
  const a = Number(actual);
  const b = Number(expected);
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  return Math.abs(a - b) <= Math.max(absTol, relTol * Math.abs(b));
}

function linesOf(text: string): string[] {
  return text.replace(/\r\n?/g, '\n').trim().split('\n').map((line) => line.trim());
}

export function outputsMatch(actual: string, expected: string, options: CompareOptions = {}): boolean {
  const absTol = options.absTol ?? 1e-6;
  const relTol = options.relTol ?? 1e-6;
  const got = linesOf(actual);
  const want = linesOf(expected);
  if (got.length !== want.length) return false;
  for (let i = 0; i < got.length; i++) {
    if (got[i] === want[i]) continue;
    const a = got[i].split(/\s+/);
    const b = want[i].split(/\s+/);
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (!tokensMatch(a[j], b[j], absTol, relTol)) return false;
  }
  return true;
}

/** Deep equality of JSON values where numbers compare within the tolerance (call-based return values). */
export function valuesMatch(actual: unknown, expected: unknown, options: CompareOptions = {}): boolean {
  const absTol = options.absTol ?? 1e-6;
  const relTol = options.relTol ?? 1e-6;
  if (typeof actual === 'number' && typeof expected === 'number') {
    if (Number.isInteger(actual) && Number.isInteger(expected)) return actual === expected;
    return Math.abs(actual - expected) <= Math.max(absTol, relTol * Math.abs(expected));
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    return actual.length === expected.length && actual.every((value, i) => valuesMatch(value, expected[i], options));
  }
  if (actual && expected && typeof actual === 'object' && typeof expected === 'object' && !Array.isArray(actual) && !Array.isArray(expected)) {
    const a = actual as Record<string, unknown>;
    const b = expected as Record<string, unknown>;
    const keys = Object.keys(b);
    return Object.keys(a).length === keys.length && keys.every((key) => key in a && valuesMatch(a[key], b[key], options));
  }
  return actual === expected;
}

/** TACO stores stdin inputs / expected outputs as a string, or occasionally as a list of lines. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(textOf).join('\n');
  return value === null || value === undefined ? '' : String(value);
}
