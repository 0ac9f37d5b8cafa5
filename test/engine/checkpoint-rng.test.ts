import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../engine/rng.ts';
import type { RngState } from '../../engine/rng.ts';

test('xoshiro128** matches the reference output for state [1, 2, 3, 4]', () => {
  const rng = Rng.fromState({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spareNormal: null });
  const got = Array.from({ length: 10 }, () => rng.nextU32());
  assert.deepEqual(got, [11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
});

test('state survives JSON and continues the identical stream, pending normal included', () => {
  const a = Rng.fromSeed(42, 'sampler');
  for (let i = 0; i < 5; i++) a.uniform();
  a.normal(); // leaves the pair's second value pending
  const saved = JSON.parse(JSON.stringify(a.state())) as RngState;
  assert.notEqual(saved.spareNormal, null);
  const b = Rng.fromState(saved);
  for (let i = 0; i < 100; i++) {
    assert.equal(b.normal(), a.normal());
    assert.equal(b.uniform(), a.uniform());
    assert.equal(b.int(7), a.int(7));
  }
});

test('seeds and stream labels select independent, reproducible streams', () => {
  const draw = (seed: number, stream: string): number[] => {
    const r = Rng.fromSeed(seed, stream);
    return Array.from({ length: 4 }, () => r.nextU32());
  };
  assert.deepEqual(draw(1, 'x'), draw(1, 'x'));
  assert.notDeepEqual(draw(1, 'x'), draw(2, 'x'));
  assert.notDeepEqual(draw(1, 'x'), draw(1, 'y'));
  const parent = Rng.fromSeed(5);
  const before = parent.state();
  const child = parent.fork('child');
  assert.deepEqual(parent.state(), before, 'fork does not advance the parent');
  assert.notEqual(child.nextU32(), parent.nextU32());
  assert.throws(() => Rng.fromSeed(-1), /non-negative safe integer/);
  assert.throws(() => Rng.fromSeed(1.5), /non-negative safe integer/);
});

test('uniform, int and normal have the right ranges and moments', () => {
  const rng = Rng.fromSeed(9);
  const n = 20000;
  let sum = 0;
  let sq = 0;
  const counts = new Array(5).fill(0);
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    assert.ok(u >= 0 && u < 1);
    counts[rng.int(5)]++;
    const z = rng.normal();
    sum += z;
    sq += z * z;
  }
  assert.ok(Math.abs(sum / n) < 0.03, `mean ${sum / n}`);
  assert.ok(Math.abs(sq / n - 1) < 0.05, `variance ${sq / n}`);
  for (const c of counts) assert.ok(Math.abs(c / n - 0.2) < 0.02, `int(5) bucket share ${c / n}`);
  assert.throws(() => rng.int(0), /n must be an integer/);
});

test('invalid saved states are rejected', () => {
  const bad: [unknown, RegExp][] = [
    [{ algorithm: 'mt19937', s: [1, 2, 3, 4], spareNormal: null }, /algorithm: expected "xoshiro128\*\*"/],
    [{ algorithm: 'xoshiro128**', s: [1, 2, 3], spareNormal: null }, /four unsigned 32-bit integers/],
    [{ algorithm: 'xoshiro128**', s: [1, 2, 3, 2 ** 32], spareNormal: null }, /four unsigned 32-bit integers/],
    [{ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spareNormal: null }, /all-zero state/],
    [{ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spareNormal: 'x' }, /spareNormal/],
  ];
  for (const [state, re] of bad) assert.throws(() => Rng.fromState(state as RngState), re);
});

test('fillNormal gives exactly the values and end state of repeated normal() calls', () => {
  for (const [pre, len] of [[0, 7], [1, 7], [1, 8], [0, 0], [3, 1]] as const) {
    const a = Rng.fromSeed(11, `fill-${pre}-${len}`);
    const b = Rng.fromSeed(11, `fill-${pre}-${len}`);
    for (let i = 0; i < pre; i++) assert.equal(a.normal(), b.normal());
    const filled = a.fillNormal(new Float32Array(len), 0.5, 2);
    const looped = Float32Array.from({ length: len }, () => 0.5 + 2 * b.normal());
    assert.deepEqual(filled, looped, `pre ${pre} len ${len}`);
    assert.deepEqual(a.state(), b.state(), `state after pre ${pre} len ${len}`);
  }
});
