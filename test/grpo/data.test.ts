// The stage's prompts: verl RL parquet rows read with unscorable rows rejected by uid, a seeded validation split,
// and step batches that cover every training prompt once per epoch in a seeded order that changes at the epoch
// boundary (resuming at step k gives the same prompts as running through it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpoStepsPerEpoch, readRlFiles, splitValidation, stepPrompts } from '../../training/index.ts';
import { RL_ROWS, rlParquetBytes } from '../fixtures/grpo/rlParquet.ts';

test('RL parquet rows are read; unscorable rows and repeated uids are rejected naming file, row and uid', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'grpo-data-'));
  const file = join(dir, 'rl.parquet');
  writeFileSync(file, rlParquetBytes([...RL_ROWS, { uid: 'bad', dataSource: 'taco_code', ability: 'code', problem: 'p', groundTruth: 'not json' }, { ...RL_ROWS[0] }, { uid: 'empty', dataSource: 'deepscaler', ability: 'math', problem: 'q', groundTruth: '' }]));
  const { rows, rejects } = await readRlFiles([file]);
  assert.deepEqual(rows.map((r) => r.uid), RL_ROWS.map((r) => r.uid));
  assert.deepEqual(rows[0].messages, [{ role: 'user', content: RL_ROWS[0].problem }]);
  assert.equal(rows[3].groundTruth, RL_ROWS[3].groundTruth);
  assert.deepEqual(rejects.map((r) => [r.row, r.uid]), [[6, 'bad'], [7, 'math-1'], [8, 'empty']]);
  assert.match(rejects[0].reason, /row bad: reward_model\.ground_truth/);
  assert.equal(rejects[1].reason, 'duplicate uid');
  assert.match(rejects[2].reason, /ground_truth is empty/);
  assert.ok(rejects.every((r) => r.file === file));
});

test('validation split: seeded, disjoint, at least one row', () => {
  const rows = RL_ROWS.map((r) => ({ uid: r.uid, dataSource: r.dataSource, ability: r.ability, groundTruth: r.groundTruth, messages: [] }));
  const a = splitValidation(rows, 0.3, 1);
  assert.deepEqual(splitValidation(rows, 0.3, 1), a);
  assert.equal(a.val.length, 2);
  assert.equal(a.train.length + a.val.length, rows.length);
  assert.ok(a.val.every((v) => !a.train.some((t) => t.uid === v.uid)));
  assert.equal(splitValidation(rows, 0.01, 1).val.length, 1);
});

test('validation split: every source held out in proportion, the total still round(fraction * rows)', () => {
  const sources = ['deepscaler', 'omni_math', 'numina_math', 'taco_code', 'leetcode_code'];
  const rows = sources.flatMap((s) => Array.from({ length: 18 }, (_, i) => ({ uid: `${s}-${i}`, dataSource: s, ability: 'math', groundTruth: '1', messages: [] })));
  for (const seed of [1, 2, 3]) {
    const { val } = splitValidation(rows, 0.1, seed);
    assert.equal(val.length, 9);
    const per = sources.map((s) => val.filter((r) => r.dataSource === s).length);
    assert.ok(per.every((n) => n === 1 || n === 2), `seed ${seed}: ${per}`);
    const wider = splitValidation(rows, 0.2, seed).val;
    assert.equal(wider.length, 18);
    assert.ok(sources.every((s) => [3, 4].includes(wider.filter((r) => r.dataSource === s).length)));
  }
});

test('each epoch covers every prompt once; the order changes at the epoch boundary and does not depend on where a run resumed', () => {
  const train = Array.from({ length: 7 }, (_, i) => ({ uid: `u${i}`, dataSource: 'x_math', ability: 'math', groundTruth: '1', messages: [] }));
  const spe = grpoStepsPerEpoch(train.length, 3);
  assert.equal(spe, 2); // the 7th prompt does not fit a full batch
  const uids = (step: number) => stepPrompts(train, 9, 3, step).rows.map((r) => r.uid);
  const epoch0 = [...uids(1), ...uids(2)];
  const epoch1 = [...uids(3), ...uids(4)];
  assert.equal(new Set(epoch0).size, 6);
  assert.equal(new Set(epoch1).size, 6);
  assert.notDeepEqual(epoch0, epoch1);
  assert.equal(stepPrompts(train, 9, 3, 3).epoch, 1);
  assert.deepEqual(uids(3), stepPrompts(train, 9, 3, 3).rows.map((r) => r.uid));
});
