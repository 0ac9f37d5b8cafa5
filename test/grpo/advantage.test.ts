// Group advantages: the recipe's formula with Bessel's std and the 1e-6 epsilon, a group of one (mean 0, std 1),
// all-equal groups exactly 0 and counted in frac_reward_zero_std, rows of groups in any order, bad input refused,
// and DAPO's dynamic-sampling filter.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dynamicSamplingKeep, groupAdvantages } from '../../rewards/advantage.ts';

test('A = (r - mean) / (Bessel std + 1e-6) within each group', () => {
  const r = [1, -1, 0.5, -0.6];
  const mean = (1 - 1 + 0.5 - 0.6) / 4;
  const std = Math.sqrt(r.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
  const { advantages, groups } = groupAdvantages(r, ['g', 'g', 'g', 'g']);
  advantages.forEach((a, i) => assert.equal(a, (r[i] - mean) / (std + 1e-6)));
  assert.equal(groups[0].std, std);
  // Two rewards 1 and -1: std = sqrt(2), so A = +-1/(sqrt 2 + 1e-6), not +-1 (population std would give 1).
  const two = groupAdvantages([1, -1], ['x', 'x']).advantages;
  assert.equal(two[0], 1 / (Math.SQRT2 + 1e-6));
  assert.equal(two[1], -1 / (Math.SQRT2 + 1e-6));
});

test('groups are found by id wherever their rows are; a group of one keeps its reward (mean 0, std 1)', () => {
  const { advantages, groups, fracRewardZeroStd } = groupAdvantages([1, 5, -1, 0.3], ['a', 'b', 'a', 'c']);
  assert.deepEqual(groups.map((g) => [g.group, g.size]), [['a', 2], ['b', 1], ['c', 1]]);
  assert.equal(advantages[1], 5 / (1 + 1e-6));
  assert.equal(advantages[3], 0.3 / (1 + 1e-6));
  assert.equal(advantages[0], -advantages[2]);
  assert.equal(fracRewardZeroStd, 0);
});

test('all-equal groups get exactly 0 and are counted in frac_reward_zero_std', () => {
  // 0.1 * 3 style sums: equal rewards whose float mean is not bit-equal to them must still give exactly 0.
  const same = -0.7;
  const { advantages, fracRewardZeroStd, groups } = groupAdvantages([same, same, same, 1, 1, 1, 0, 1], ['z', 'z', 'z', 'o', 'o', 'o', 'm', 'm']);
  assert.deepEqual(advantages.slice(0, 6), [0, 0, 0, 0, 0, 0]);
  assert.ok(advantages[6] < 0 && advantages[7] > 0);
  assert.deepEqual(groups.map((g) => g.zeroStd), [true, true, false]);
  assert.equal(fracRewardZeroStd, 2 / 3);
});

test('mismatched lengths or non-finite scores are refused naming them', () => {
  assert.throws(() => groupAdvantages([1, 2], ['a']), /2 scores but 1 group ids/);
  assert.throws(() => groupAdvantages([1, NaN], ['a', 'b']), /score 1 \(group b\) is not a finite number/);
  assert.deepEqual(groupAdvantages([], []), { advantages: [], groups: [], fracRewardZeroStd: 0 });
});

test('dynamic sampling keeps only the groups whose rewards differ', () => {
  assert.deepEqual(dynamicSamplingKeep([1, 1, -1, 1, 0.5, 0.5, 3], ['a', 'a', 'b', 'b', 'c', 'c', 'd']), ['b', 'd']);
});
