// The Web UI "current details" text: tables as fixed-width code blocks (the UI's markdown tables lose the space
// between cells), numbers right-aligned, paths listed; nothing in a cell can break out of its block.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixedWidthTable, formatDetails, formatDetailsNumber } from '../../workflows/details.ts';

test('a balance summary: heading, an aligned table in a code block, paths as a list', () => {
  const text = formatDetails({
    heading: '**balance** done for run `demo`',
    table: {
      head: ['source', 'read', 'rejected', 'sampled'],
      rows: [['numina_math', 1020371, 371, 400], ['taco_code', 606, 80, 400]],
    },
    paths: [['RL set', '/runs/demo/balance/rl.parquet'], ['report', '/runs/demo/report.html']],
  });
  assert.equal(text, [
    '**balance** done for run `demo`',
    '',
    '```',
    'source          read  rejected  sampled',
    'numina_math  1020371       371      400',
    'taco_code        606        80      400',
    '```',
    '',
    '- RL set: `/runs/demo/balance/rl.parquet`',
    '- report: `/runs/demo/report.html`',
  ].join('\n'));
});

test('latest metrics as aligned label/value lines; numbers to 4 significant digits', () => {
  const text = formatDetails({ heading: '**grpo** step 12 of 40', values: [['stage', 'grpo'], ['critic/score/mean', 0.123456], ['lr', 0.00001], ['step', 12]] });
  assert.equal(text, '**grpo** step 12 of 40\n\n```\nstage              grpo\ncritic/score/mean  0.1235\nlr                 1.000e-5\nstep               12\n```');
  assert.equal(formatDetailsNumber(2.5e6 + 0.5), '2.500e+6');
});

test('a cell with backticks or newlines stays inside its block', () => {
  const text = formatDetails({ heading: 'x', table: { head: ['name', 'note'], rows: [['a', 'ends ```\nhere'], ['b', null]] } });
  const lines = text.split('\n');
  assert.equal(lines[2], '````', 'the fence is longer than any backtick run in the cells');
  assert.equal(lines.at(-1), '````');
  assert.deepEqual(fixedWidthTable(['name', 'note'], [['a', 'ends ```\nhere'], ['b', null]]), ['name  note', 'a     ends ``` here', 'b     -']);
});
