// The checker against the project's shared verdicts (restated from math-verify's own tests).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MathChecker } from '../../rewards/math/checker.ts';
import { loadMathPairs as loadPairs, TARGETS } from '../fixtures/math-pairs.ts';

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
