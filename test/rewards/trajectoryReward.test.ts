import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trajectoryReward } from '../../rewards/trajectoryReward.ts';
import { DEFAULT_REWARD_SETTINGS, parseRewardSettings } from '../../schemas/reward.ts';

const SHORT = 1000; // well inside the budget: no overlong penalty

test('TCR: a wrong math answer earns 0.1 per EXECUTED tool round, capped at -0.6', () => {
  const expected = [-1.0, -0.9, -0.8, -0.7, -0.6, -0.6];
  const added = [0, 0.1, 0.2, 0.3, 0.4, 0.4];
  for (let rounds = 0; rounds <= 5; rounds++) {
    const r = trajectoryReward({ outcome: -1, toolRounds: rounds, responseTokens: SHORT });
    assert.equal(r.total, expected[rounds], `${rounds} tool rounds`);
    assert.equal(r.outcome, -1);
    assert.equal(r.tcr, added[rounds]);
    assert.equal(r.overlong, 0);
  }
});

test('TCR depends on the executed-round count (not the constant -1.1 of the released code)', () => {
  const none = trajectoryReward({ outcome: -1, toolRounds: 0, responseTokens: SHORT });
  const two = trajectoryReward({ outcome: -1, toolRounds: 2, responseTokens: SHORT });
  assert.notEqual(none.total, two.total);
  assert.ok(two.total > none.total);
  assert.throws(
    () => trajectoryReward({ outcome: -1, responseTokens: SHORT } as unknown as Parameters<typeof trajectoryReward>[0]),
    /toolRounds must be a non-negative integer/,
  );
  assert.throws(() => trajectoryReward({ outcome: -1, toolRounds: 1.5, responseTokens: SHORT }), /toolRounds/);
});

test('correct answers and code partial credit are untouched by TCR', () => {
  for (const rounds of [0, 3, 10]) {
    assert.equal(trajectoryReward({ outcome: 1, toolRounds: rounds, responseTokens: SHORT }).total, 1);
    const partial = trajectoryReward({ outcome: 0.4, toolRounds: rounds, responseTokens: SHORT });
    assert.equal(partial.total, 0.4);
    assert.equal(partial.tcr, 0);
    assert.equal(trajectoryReward({ outcome: 0, toolRounds: rounds, responseTokens: SHORT }).total, 0);
  }
  // A failed code run (-1) gets TCR like a wrong math answer: the reward takes the outcome number only.
  assert.equal(trajectoryReward({ outcome: -1, toolRounds: 3, responseTokens: SHORT }).total, -0.7);
});

test('overlong ramp with the card settings: 7,480 / 8,980 / 10,480 tokens -> 0 / -0.5 / -1', () => {
  const rows: Array<[number, number]> = [
    [7000, 0],
    [7480, 0],
    [8980, -0.5],
    [10480, -1],
  ];
  for (const [tokens, penalty] of rows) {
    const r = trajectoryReward({ outcome: -1, toolRounds: 0, responseTokens: tokens });
    assert.equal(r.overlong, penalty, `${tokens} tokens`);
    assert.equal(r.total, -1 + penalty);
  }
});

test('overlong is added to correct answers too, and composes with TCR', () => {
  const correct = trajectoryReward({ outcome: 1, toolRounds: 2, responseTokens: 8980 });
  assert.deepEqual(correct, { outcome: 1, tcr: 0, overlong: -0.5, total: 0.5, toolRounds: 2, responseTokens: 8980 });
  const wrong = trajectoryReward({ outcome: -1, toolRounds: 2, responseTokens: 9730 });
  assert.deepEqual({ tcr: wrong.tcr, overlong: wrong.overlong, total: wrong.total }, { tcr: 0.2, overlong: -0.75, total: -1.55 });
});

test('every constant is a setting: flags, per-round, cap, buffer, factor, max length', () => {
  const off = parseRewardSettings({ tcr: { enabled: false }, overlong: { enabled: false } });
  assert.equal(trajectoryReward({ outcome: -1, toolRounds: 5, responseTokens: 10480 }, off).total, -1);
  const custom = parseRewardSettings({ tcr: { perRound: 0.05, cap: -0.5 }, overlong: { bufferTokens: 1000, factor: 0.5, maxResponseTokens: 2000 } });
  const r = trajectoryReward({ outcome: -1, toolRounds: 4, responseTokens: 1500 }, custom);
  assert.equal(r.tcr, 0.2);
  assert.equal(r.overlong, -0.25);
  assert.equal(r.total, -1.05);
  assert.deepEqual(DEFAULT_REWARD_SETTINGS.tcr, { enabled: true, perRound: 0.1, cap: -0.6 });
  assert.deepEqual(DEFAULT_REWARD_SETTINGS.overlong, { enabled: true, bufferTokens: 3000, factor: 1, maxResponseTokens: 10480 });
});

test('bad input and bad settings fail with a message naming the field', () => {
  assert.throws(() => trajectoryReward({ outcome: 2, toolRounds: 0, responseTokens: 0 }), /outcome must be a number in \[-1, 1\]/);
  assert.throws(() => trajectoryReward({ outcome: Number.NaN, toolRounds: 0, responseTokens: 0 }), /outcome/);
  assert.throws(() => trajectoryReward({ outcome: 1, toolRounds: 0, responseTokens: -3 }), /responseTokens/);
  assert.throws(() => parseRewardSettings({ overlong: { bufferTokens: 5000, maxResponseTokens: 4000 } }, 'recipe.yaml'), /recipe\.yaml: .*overlong\.bufferTokens/);
  assert.throws(() => parseRewardSettings({ tcr: { perRond: 0.1 } }), /tcr: Unrecognized key/);
  assert.throws(() => parseRewardSettings({ math: { mode: 'fuzzy' } }), /math\.mode/);
});
