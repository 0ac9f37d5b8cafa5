// Token choice from logits: greedy, temperature, top-k and top-p as Hugging Face's warpers define them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleToken } from '../../engine/sampling.ts';
import type { TokenChoice } from '../../engine/sampling.ts';
import { Rng } from '../../engine/rng.ts';

const probs = [0.5, 0.3, 0.15, 0.05];
const logits = Float32Array.from(probs.map((p) => Math.log(p) + 2)); // shifted: only differences matter

function frequencies(c: TokenChoice, n = 20000): number[] {
  const rng = Rng.fromSeed(1, JSON.stringify(c));
  const counts = new Array<number>(probs.length).fill(0);
  for (let i = 0; i < n; i++) counts[sampleToken(logits, 0, probs.length, c, rng).token]++;
  return counts.map((k) => k / n);
}

function close(got: number[], want: number[], tol = 0.015): void {
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= tol, `token ${i}: ${g} vs ${want[i]} (all: ${got.join(', ')})`));
}

const normalise = (xs: number[]) => xs.map((x) => x / xs.reduce((a, b) => a + b, 0));

test('greedy takes the argmax; log-probs are the untempered model log-probs', () => {
  const rng = Rng.fromSeed(1);
  const r = sampleToken(logits, 0, 4, { temperature: 0 }, rng);
  assert.equal(r.token, 0);
  assert.ok(Math.abs(r.logprob - Math.log(0.5)) < 1e-6);
  const t = sampleToken(logits, 0, 4, { temperature: 3, topK: 1 }, rng);
  assert.equal(t.token, 0);
  assert.ok(Math.abs(t.logprob - Math.log(0.5)) < 1e-6);
  const shifted = new Float32Array(8);
  shifted.set(logits, 4);
  assert.equal(sampleToken(shifted, 4, 4, { temperature: 0 }, rng).token, 0);
});

test('temperature 1 samples the softmax; temperature 0.5 sharpens it to p^2', () => {
  close(frequencies({ temperature: 1 }), probs);
  close(frequencies({ temperature: 0.5 }), normalise(probs.map((p) => p * p)));
});

test('top-k keeps the k most likely tokens', () => {
  close(frequencies({ temperature: 1, topK: 2 }), normalise([0.5, 0.3, 0, 0]));
});

test('top-p keeps the smallest head whose mass reaches p (the crossing token included)', () => {
  close(frequencies({ temperature: 1, topP: 0.7 }), normalise([0.5, 0.3, 0, 0]));
  close(frequencies({ temperature: 1, topP: 0.5 }), [1, 0, 0, 0]);
  close(frequencies({ temperature: 1, topP: 0.81 }), normalise([0.5, 0.3, 0.15, 0]));
  close(frequencies({ temperature: 1, topK: 3, topP: 0.9 }), normalise([0.5, 0.3, 0.15, 0]));
});
