// GRPO group advantages (recipe.md section 3) as a pure function of the scores and the group each belongs to:
//   A_i = (r_i - mean_g) / (std_g + 1e-6), std unbiased (Bessel); a group of one: mean 0, std 1 (so A = r).
// A group whose n >= 2 rewards are all equal has std 0 and every A_i is exactly 0; such groups teach nothing, and
// their fraction is reported as frac_reward_zero_std (verl's name). DAPO's dynamic sampling (drop those groups and
// draw more prompts) is offered by dynamicSamplingKeep, off by default as in the card.

export const ADVANTAGE_EPSILON = 1e-6;

export interface GroupStats {
  group: string;
  size: number;
  mean: number;
  std: number;
  /** n >= 2 and every reward equal: the group's advantages are 0. */
  zeroStd: boolean;
}

export interface GroupAdvantages {
  /** One per score, in the input order. */
  advantages: number[];
  /** One per group, in order of first appearance. */
  groups: GroupStats[];
  /** Groups with zeroStd over all groups (0 when there are none). */
  fracRewardZeroStd: number;
}

function checkInputs(scores: readonly number[], groupIds: readonly string[]): void {
  if (scores.length !== groupIds.length) throw new Error(`groupAdvantages: ${scores.length} scores but ${groupIds.length} group ids`);
  scores.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isFinite(s)) throw new Error(`groupAdvantages: score ${i} (group ${groupIds[i]}) is not a finite number: ${s}`);
  });
}

function statsOf(group: string, rewards: readonly number[]): GroupStats {
  const n = rewards.length;
  if (n === 1) return { group, size: 1, mean: 0, std: 1, zeroStd: false };
  const mean = rewards.reduce((a, b) => a + b, 0) / n;
  const allEqual = rewards.every((r) => r === rewards[0]);
  // All-equal groups are tested on the values themselves: the mean of equal floats can differ from them in the last
  // bit, which would give a tiny non-zero advantage instead of exactly 0.
  const std = allEqual ? 0 : Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / (n - 1));
  return { group, size: n, mean: allEqual ? rewards[0] : mean, std, zeroStd: allEqual };
}

/** Group-normalised advantages; groups are the distinct ids (any order of rows). */
export function groupAdvantages(scores: readonly number[], groupIds: readonly string[], epsilon = ADVANTAGE_EPSILON): GroupAdvantages {
  checkInputs(scores, groupIds);
  const members = new Map<string, number[]>();
  groupIds.forEach((g, i) => {
    const list = members.get(g);
    if (list) list.push(i);
    else members.set(g, [i]);
  });
  const advantages = new Array<number>(scores.length);
  const groups: GroupStats[] = [];
  for (const [group, idx] of members) {
    const stats = statsOf(group, idx.map((i) => scores[i]));
    groups.push(stats);
    for (const i of idx) advantages[i] = stats.zeroStd ? 0 : (scores[i] - stats.mean) / (stats.std + epsilon);
  }
  const zero = groups.filter((g) => g.zeroStd).length;
  return { advantages, groups, fracRewardZeroStd: groups.length === 0 ? 0 : zero / groups.length };
}

/**
 * DAPO dynamic sampling: the groups worth training on (their rewards are not all equal), in order of first
 * appearance. The caller draws more prompts until it has a batch of kept groups.
 */
export function dynamicSamplingKeep(scores: readonly number[], groupIds: readonly string[]): string[] {
  return groupAdvantages(scores, groupIds).groups.filter((g) => !g.zeroStd).map((g) => g.group);
}
