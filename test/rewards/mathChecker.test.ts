// Behaviour of the math checker users rely on: extraction priorities, normalisation, equivalence rules,
// the strict Open-AgentRL mode, time-outs that always end, and reproducible verdicts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { MathChecker } from '../../rewards/math/checker.ts';
import { extractAnswer } from '../../rewards/math/extract.ts';
import { strictBoxedMatch } from '../../rewards/math/strict.ts';
import { verifyMathSync } from '../../rewards/math/verifySync.ts';
import { mathOutcome } from '../../rewards/mathOutcome.ts';

const checker = new MathChecker();
after(() => checker.close());

test('extraction priorities: final-answer phrase, then last box, then "answer", then right-most candidate', () => {
  assert.equal(extractAnswer('We get $x=3$. Final answer: the value is $7$. Later \\boxed{9}')?.text, '9'); // a box after the phrase
  assert.equal(extractAnswer('Final Answer: The largest $n$ is 34.')?.priority, 'final-answer');
  assert.equal(extractAnswer('Final Answer: The largest $n$ is 34.')?.text, '34');
  assert.equal(extractAnswer('first \\boxed{1} then $5$ and 6')?.text, '1');
  assert.equal(extractAnswer('Answer: 12. Check: 3 + 9 = 12 and 13')?.text, '12');
  assert.equal(extractAnswer('so $a=2$ and $b = 5$')?.text, 'b = 5');
  assert.equal(extractAnswer('roots \\boxed{1} and \\boxed{2}')?.text, '1, 2');
  assert.equal(extractAnswer('\\boxed{1} is wrong, so \\boxed{2}')?.text, '2');
  assert.equal(extractAnswer('AZYUK2A'), null);
  assert.equal(extractAnswer('the $x$ value', { targets: ['expr'] }), null);
  assert.equal(extractAnswer('a truncated \\boxed{\\frac{1}{2}'), null);
});

const cases: Array<[gold: string, pred: string, equal: boolean, why: string]> = [
  ['\\frac{1}{2}', '$0.5$', true, 'float vs fraction'],
  ['\\frac{1}{3}', '$\\boxed{0.33}$', false, 'floats are rounded to 6 places, not 2'],
  ['\\sqrt{2}', '\\boxed{1.414214}', true, 'float rounded to 6 places'],
  ['\\frac{1}{2^{99}}', '$\\frac{1}{2^{98}}$', false, 'relative, not absolute, tolerance'],
  ['10^{12}+1', '$10^{12}$', false, 'exact difference is non-zero'],
  ['\\dfrac{3}{4}', '\\boxed{\\tfrac34}', true, '\\dfrac/\\tfrac and short arguments'],
  ['x^2+2x+1', '$\\boxed{(x+1)^2}$', true, 'expanded vs factored'],
  ['x^2+2x+1', '$\\boxed{(x-1)^2}$', false, 'different polynomial'],
  ['3\\sqrt{2}', '\\boxed{\\sqrt{18}}', true, 'radicals'],
  ['\\ln 2', '\\boxed{\\log 2}', false, 'log is base 10'],
  ['(1,2)', '$\\boxed{(2,1)}$', false, 'tuples are ordered'],
  ['\\{1,2\\}', '$\\boxed{\\{2,1\\}}$', true, 'sets are unordered'],
  ['[1,2]', '$\\boxed{(1,2)}$', false, 'interval brackets must match'],
  ['x>2', '$\\boxed{(2,\\infty)}$', true, 'inequality gold accepts an interval'],
  ['(2,\\infty)', '$\\boxed{x>2}$', false, 'interval gold rejects an inequality'],
  ['x \\in (1, 5]', '$\\boxed{(1,5]}$', true, 'membership unwrapped'],
  ['(3,2)', '$x=3, y=2$', true, 'assignments name tuple components'],
  ['1000', '\\boxed{1,000}', true, 'thousands separator'],
  ['90', '\\boxed{90^{\\circ}}', true, 'degrees ignored'],
  ['5 \\text{ cm}', '\\boxed{5}', true, 'units stripped'],
  ['\\text{(A)}', '$\\boxed{\\text{(B)}}$', false, 'text answers compared as text'],
  ['-\\infty', '\\boxed{\\infty}', false, 'signed infinity'],
  ['5', '$\\boxed{}$', false, 'empty box'],
  ['\\{\\}', '$\\boxed{\\emptyset}$', true, 'empty set spellings'],
  ['\\emptyset', '$\\boxed{\\{0\\}}$', false, 'the empty set is not {0}'],
  ['\\begin{pmatrix}1\\\\2\\end{pmatrix}', '\\boxed{\\begin{bmatrix}1\\\\3\\end{bmatrix}}', false, 'matrices element-wise'],
];

test('equivalence rules (table)', async () => {
  for (const [gold, pred, equal, why] of cases) {
    const v = await checker.verify(gold, pred);
    assert.equal(v.equal, equal, `${why}: ${gold} vs ${pred} (${v.goldParsed} | ${v.predParsed} | ${v.reason})`);
  }
});

test('a pathological input reports timedOut and the check still ends; the next check works', async () => {
  const HUNG = Symbol('hung');
  const outer = new Promise<typeof HUNG>((resolve) => setTimeout(resolve, 30_000, HUNG).unref());
  const result = await Promise.race([checker.verify('5', '\\boxed{1000000!}', { timeoutMs: 300 }), outer]);
  assert.notEqual(result, HUNG, 'the checker did not end on its own');
  if (result === HUNG) return;
  assert.equal(result.timedOut, true);
  assert.equal(result.equal, false);
  assert.equal(result.predAnswer, '1000000!');
  assert.match(result.reason, /time-out/);
  const next = await checker.verify('5', 'so \\boxed{5}');
  assert.equal(next.equal, true);
  assert.equal(next.timedOut, false);
});

test('verdicts are reproducible (seeded numeric checks)', () => {
  const a = verifyMathSync('$\\tan^2(y)+1$', '$\\sec^2(y)$');
  const b = verifyMathSync('$\\tan^2(y)+1$', '$\\sec^2(y)$');
  assert.deepEqual(a, b);
  assert.equal(a.equal, true);
});

test('strict mode: last \\boxed{} in the last 100 characters, exact string equality (Open-AgentRL)', () => {
  assert.deepEqual(strictBoxedMatch('so the answer is \\boxed{\\frac{1}{2}}.', '\\frac{1}{2}'), { score: 1, extracted: '\\frac{1}{2}' });
  assert.equal(strictBoxedMatch('\\boxed{\\frac12}', '\\frac{1}{2}').score, -1); // no normalisation
  assert.equal(strictBoxedMatch('\\boxed{ 5}', '5').score, -1); // no trimming
  assert.equal(strictBoxedMatch('\\boxed{4} then \\boxed{5}', '5').score, 1);
  const farBox = `\\boxed{5}${' filler'.repeat(20)}`; // the box ends more than 100 characters before the end
  assert.deepEqual(strictBoxedMatch(farBox, '5'), { score: -1, extracted: null });
  assert.equal(strictBoxedMatch('\\boxed{\\{1,2\\}}', '\\{1,2\\}').score, 1);
});

test('mathOutcome: +1/-1 in both modes, with audit detail', async () => {
  const response = 'Adding up, the total is $\\boxed{\\frac12}$.';
  const verify = await mathOutcome(response, '0.5', { mode: 'verify', timeoutMs: 5000, checker });
  assert.equal(verify.score, 1);
  assert.equal(verify.extracted, '\\frac12');
  assert.equal(verify.verdict?.predPriority, 'boxed');
  const strict = await mathOutcome(response, '0.5', { mode: 'strict' });
  assert.equal(strict.score, -1);
  assert.equal(strict.extracted, '\\frac12');
  assert.equal((await mathOutcome('no box here', '3', { mode: 'verify', checker })).score, -1);
  await assert.rejects(() => mathOutcome('x', '1', { mode: 'loose' as 'strict' }), /unknown mode "loose"/);
});
