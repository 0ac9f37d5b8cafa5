// The math checker against verdicts restated from math-verify (test/fixtures/math/*.json, grouped by rule):
// agreement per rule, every miss listed, overall >= 97 %, and every check ends within its time-out.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MathChecker } from '../../rewards/math/checker.ts';
import { loadMathPairs, TARGETS } from '../fixtures/math-pairs.ts';

const checker = new MathChecker();
after(() => checker.close());

test('the math checker agrees with >= 97% of the restated math-verify verdicts, per rule', async () => {
  const pairs = loadMathPairs();
  assert.ok(pairs.length >= 150, `expected the broadened fixture set, got ${pairs.length} rows`);
  const perRule = new Map<string, { agree: number; total: number }>();
  const misses: string[] = [];
  for (const pair of pairs) {
    const t0 = performance.now();
    const verdict = await checker.verify(pair.gold, pair.pred, { targets: TARGETS[pair.extraction], timeoutMs: 5_000 });
    assert.ok(performance.now() - t0 < 5_000 + 2_000, `${pair.id} did not end within its time-out`);
    const row = perRule.get(pair.rule) ?? { agree: 0, total: 0 };
    row.total++;
    if (verdict.equal === pair.expected) row.agree++;
    else misses.push(`${pair.id}: expected ${pair.expected}, got ${verdict.equal} (gold ${verdict.goldParsed} | pred ${verdict.predParsed} | ${verdict.reason}${verdict.timedOut ? ' | timed out' : ''})`);
    perRule.set(pair.rule, row);
  }
  for (const [rule, row] of perRule) console.log(`  ${rule}: ${row.agree}/${row.total}`);
  const agreement = (pairs.length - misses.length) / pairs.length;
  console.log(`math fixtures: ${pairs.length - misses.length}/${pairs.length} agree (${(agreement * 100).toFixed(1)}%)`);
  for (const m of misses) console.log(`  miss ${m}`);
  assert.ok(agreement >= 0.97, `agreement ${(agreement * 100).toFixed(1)}% < 97%; misses:\n${misses.join('\n')}`);
});
