// How metric columns are grouped into plots: verl's GRPO names and the SFT trainer's names land in the sections a
// reader looks for; anything unknown is still plotted, under its name prefix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupMetrics, type MetricSeries } from '../../report/metrics.ts';
import { validationComparison } from '../../report/validation-compare.ts';

const series = (...names: string[]): MetricSeries[] => names.map((name) => ({ name, points: [{ step: 1, value: 0.5 }] }));
const layout = (stage: string, ...names: string[]) =>
  Object.fromEntries(groupMetrics(stage, series(...names)).map((s) => [s.title, s.series.map((x) => x.name)]));

test('GRPO: verl names go to their sections; max/min/std of the reward and unknown names to prefix groups', () => {
  assert.deepEqual(
    layout('grpo', 'critic/score/mean', 'critic/score/max', 'reward/tcr/mean', 'frac_reward_zero_std', 'actor/pg_clipfrac',
      'actor/entropy', 'response_length/mean', 'num_turns/mean', 'tool_call_counts/mean', 'val-core/omni_math/acc/mean@8',
      'val-aux/omni_math/num_turns/mean', 'timing_s/gen', 'mystery'),
    {
      'Validation accuracy mean@n per source': ['val-core/omni_math/acc/mean@8'],
      'Validation (other)': ['val-aux/omni_math/num_turns/mean'],
      'Groups with zero reward spread (frac_reward_zero_std)': ['frac_reward_zero_std'],
      'Reward mean and its components (outcome, TCR, overlong)': ['critic/score/mean', 'reward/tcr/mean'],
      'Tool use: call, failure and malformed-call rates': ['tool_call_counts/mean'],
      'Turns per trajectory': ['num_turns/mean'],
      'Response length (tokens)': ['response_length/mean'],
      'Clip fractions': ['actor/pg_clipfrac'],
      Entropy: ['actor/entropy'],
      'critic/*': ['critic/score/max'],
      'timing_s/*': ['timing_s/gen'],
      'Other metrics': ['mystery'],
    },
  );
});

test('SFT: loss, lr, grad norm, throughput; a stage without rules groups by prefix only', () => {
  assert.deepEqual(layout('sft', 'loss', 'lr', 'grad_norm', 'tokens_per_s', 'tokens', 'val/loss'), {
    Validation: ['val/loss'],
    'Training loss': ['loss'],
    'Learning rate': ['lr'],
    'Gradient norm': ['grad_norm'],
    'Throughput (tokens/s)': ['tokens_per_s'],
    'Tokens per step': ['tokens'],
  });
  assert.deepEqual(layout('eval', 'a/x', 'b/y', 'z'), { 'a/*': ['a/x'], 'b/*': ['b/y'], 'Other metrics': ['z'] });
});

test('the learning-evidence table: accuracy and tool-call rate per source before SFT, after SFT and at the last validation, with the mean', () => {
  const pts = (...xs: [number, number][]) => xs.map(([step, value]) => ({ step, value }));
  const html = validationComparison([
    { name: 'val-core/a/acc/mean@4', points: pts([0, 0.5], [15, 0.75]) },
    { name: 'val-core/b/acc/mean@4', points: pts([0, 0.25], [15, 0.5]) },
    { name: 'val-aux/a/tool_call_rate', points: pts([0, 0.8], [15, 1]) },
    { name: 'val-aux/b/tool_call_rate', points: pts([0, 0.6], [15, 0.9]) },
    { name: 'val-baseline/a/acc/mean@4', points: pts([0, 0]) },
    { name: 'val-baseline/b/acc/mean@4', points: pts([0, 0.25]) },
    { name: 'val-baseline/a/tool_call_rate', points: pts([0, 0]) },
    { name: 'critic/score/mean', points: pts([1, 0.1]) },
  ]);
  const cells = (html.match(/<tr>.*?<\/tr>/gu) ?? []).map((r) => [...r.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/gu)].map((m) => m[1]));
  assert.deepEqual(cells, [
    ['source', 'accuracy mean@4, before SFT', 'accuracy mean@4, step 0 (after SFT)', 'accuracy mean@4, step 15', 'tool-call rate, before SFT', 'tool-call rate, step 0 (after SFT)', 'tool-call rate, step 15'],
    ['a', '0', '0.5', '0.75', '0', '0.8', '1'],
    ['b', '0.25', '0.25', '0.5', '—', '0.6', '0.9'],
    ['<b>mean over sources</b>', '0.125', '0.375', '0.625', '—', '0.7', '0.95'],
  ]);
  assert.equal(validationComparison([{ name: 'critic/score/mean', points: pts([1, 0.1]) }]), '', 'no validation, no table');
});
