// How metric columns are grouped into plots: verl's GRPO names and the SFT trainer's names land in the sections a
// reader looks for; anything unknown is still plotted, under its name prefix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { groupMetrics, type MetricSeries } from '../../report/metrics.ts';

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
