// The checker against the project's shared verdicts (restated from math-verify's own tests).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MathChecker } from '../../rewards/math/checker.ts';
import type { ExtractionTarget } from '../../rewards/math/extract.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const FIXTURE = path.resolve(repoRoot, '..', 'shared', 'fixtures', 'math-pairs.json');

interface Pair {
  id: string;
  gold: string;
  pred: string;
  expected: boolean;
  extraction: string;
}

// math-verify's extraction targets: L = LaTeX, E = plain expression, D = its default (both).
const TARGETS: Record<string, ExtractionTarget[]> = { L: ['latex'], E: ['expr'], LE: ['latex', 'expr'], D: ['latex', 'expr'] };

function loadPairs(): Pair[] {
  if (!existsSync(FIXTURE)) {
    throw new Error(`missing shared fixture ${FIXTURE}: it is project input that lives beside the clone (../shared/fixtures)`);
  }
  const rows = JSON.parse(readFileSync(FIXTURE, 'utf8')) as unknown;
  if (!Array.isArray(rows)) throw new Error(`${FIXTURE}: expected a JSON array`);
  return rows.map((row: Record<string, unknown>, i) => {
    for (const field of ['id', 'gold', 'pred', 'extraction'] as const) {
      if (typeof row[field] !== 'string') throw new Error(`${FIXTURE}: row ${i}: field "${field}" must be a string`);
    }
    if (typeof row.expected !== 'boolean') throw new Error(`${FIXTURE}: row ${i}: field "expected" must be a boolean`);
    if (!(row.extraction as string in TARGETS)) throw new Error(`${FIXTURE}: row ${i}: unknown extraction "${String(row.extraction)}"`);
    return row as unknown as Pair;
  });
}

const checker = new MathChecker();
after(() => checker.close());

test('the math checker agrees with at least 95% of the shared math-pairs verdicts', async () => {
  const pairs = loadPairs();
  assert.ok(pairs.length >= 20, `expected a real fixture, got ${pairs.length} rows`);
  const misses: string[] = [];
  for (const pair of pairs) {
    const verdict = await checker.verify(pair.gold, pair.pred, { targets: TARGETS[pair.extraction], timeoutMs: 10_000 });
    assert.equal(verdict.timedOut, false, `${pair.id} timed out`);
    if (verdict.equal !== pair.expected) {
      misses.push(`${pair.id}: expected ${pair.expected}, got ${verdict.equal} (gold ${verdict.goldParsed} | pred ${verdict.predParsed} | ${verdict.reason})`);
    }
  }
  const agreement = (pairs.length - misses.length) / pairs.length;
  console.log(`math-pairs: ${pairs.length - misses.length}/${pairs.length} agree (${(agreement * 100).toFixed(1)}%)`);
  for (const m of misses) console.log(`  miss ${m}`);
  assert.ok(agreement >= 0.95, `agreement ${(agreement * 100).toFixed(1)}% < 95%; misses:\n${misses.join('\n')}`);
});
