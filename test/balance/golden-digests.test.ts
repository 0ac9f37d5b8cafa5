// The balance stage's outputs on the test fixtures (scale "test", generator seed 1, sampling seed 42) are pinned
// by sha256. They must not change when code moves or is refactored: a different digest means a published
// artifact changed. They were last re-recorded on purpose when source_file became the file's lineage identity
// (datasets/balance/source-file.ts) instead of its path relative to base_dir (issue 14). If the fixture
// generator itself changes, the input digests below change first and the test says so.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { sha256File } from '../../core/digest.ts';
import { ingestSource, selectBalanced, writeRejectsTable, writeRlDataset } from '../../datasets/balance/index.ts';
import { makeFixture, PRIORITY, tempDir } from './helpers.ts';

const TEMPLATES = { math: '{problem}\n\nPut the answer in \\boxed{}.', code: '{problem}\n\n{starter_code_block}Write Python 3.' };

const INPUTS: Record<string, string> = {
  'deepscaler/deepscaler.json': '3a26c1d91a1cf4d2ca56a7917d0e2786cf29a4f57ff9d839aad00e1cf170a26a',
  'leetcode/LeetCodeDataset-train.jsonl': 'd8458a3f0bc55ce6476b66a984d43ba2dc1f9f08df3e6a299ecef9c42fc5ece9',
  'numina_math/data/train-00000-of-00003.parquet': '7ec41ed544318e1773a2b8df0f18da14d88fd3baac69aee703865bbc8f531dfe',
  'numina_math/data/train-00001-of-00003.parquet': 'f29cbb5f56c04743e8e29afd06dbe22ac3047fca07c575cef984066444d686a6',
  'numina_math/data/train-00002-of-00003.parquet': '4252882265857a01649944f05fefa1e438f81dc02a00374936cac82933f43ba0',
  'omni_math/test.jsonl': '1dc74e9a6efbe84543df6c101b2a25481eebd67ee2093311dfa6bfb07e0a14eb',
  'taco/train/data-00000-of-00003.arrow': 'ea91c4131695736d6de21f44e4b670b8a21a45171ed2c842dd8e5fc20cf8dd5e',
  'taco/train/data-00001-of-00003.arrow': '5c0150a2e9f06c8a912b9f03f57a9f71d77b211abfcba97adfd19d798f799c5e',
  'taco/train/data-00002-of-00003.arrow': 'da0cab1d8e3354305a403206d78068ab6005cc845dec671168cf316cff0a1668',
  'taco_parquet/train-00000-of-00003.parquet': '3747fc3e27fe775314b6dea4462c95219a895224654484e2d416b7c1e753086c',
  'taco_parquet/train-00001-of-00003.parquet': '8b8a8756b407c5754d033c49423a625989c9766dcc5bf869d4a0452ffa0992bb',
  'taco_parquet/train-00002-of-00003.parquet': '7708dbffd6afb858aaf08fe2a7bf8ada9533fdc568554ef199fcd69463defa17',
};

const OUTPUTS = {
  candidates: {
    deepscaler: 'c9976dc2b1462550cc8f957246269968ee21836534ac2d874a866a8f934dea2c',
    omni_math: '0e37aed5a62165e29414859938dac410db5c34babb73be81e423940db47ed621',
    numina_math: 'b37e3a823838e6f6d0322e6ed8c5d8f4e9c3a4f6e9d697929a7f54cc5faa8c58',
    taco_code: '95f1583b00102a4f187337d015c37b63c5ac1b8fd60665615c833ea393369f85',
    leetcode_code: 'd65dea215f7bcdd488e24010f192ba0b3e210f51628d60e744e64f7542aec307',
  },
  selected: 'd8650daf5842a8c020311fe68c7b082a7a66074eeca444a4c8451ecbb2ba384f',
  rl_parquet: '2af332c4bb5a2f868948a5dce24afac564225d6c8c2484021d3e2e5184512253',
  rl_arrow: '0a1945fed2dff2131c847b751cc431095d849dccde0ad5769721a56744892986',
  rejects: 'b5938a17b5761b28d5a74473f6a5c375e01721cd0b63f5d343f873b9f5074a20',
};

async function inputDigests(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out[relative(dir, p)] = await sha256File(p);
    }
  };
  await walk(dir);
  return out;
}

test('the balance outputs on the test fixtures have the recorded sha256', async () => {
  const fx = await makeFixture(1);
  const inputs = await inputDigests(fx.dir);
  assert.deepEqual(inputs, INPUTS, 'the fixture generator changed: re-record the digests on purpose');
  const work = await tempDir('golden');
  const ingested = [];
  for (const source of fx.sources) ingested.push(await ingestSource({ source, baseDir: fx.dir, workDir: work }));
  const sel = await selectBalanced({
    inputs: ingested.map((r) => ({ source: r.source, candidates: r.candidates, take: 400 })),
    seed: 42,
    priority: PRIORITY,
    shortfall: 'error',
    workDir: work,
  });
  const rl = await writeRlDataset({ selected: sel.selected, templates: TEMPLATES, agentName: 'tool_agent', split: 'train', outDir: work });
  const rejects = await writeRejectsTable({ rejects: [...ingested.map((r) => r.rejects), sel.rejects], outDir: work });
  assert.deepEqual(
    {
      candidates: Object.fromEntries(ingested.map((r) => [r.source, r.candidates.sha256])),
      selected: sel.selected.sha256,
      rl_parquet: rl.parquet.sha256,
      rl_arrow: rl.arrow.sha256,
      rejects: rejects.sha256,
    },
    OUTPUTS,
  );
  assert.equal(await sha256File(rl.parquet.path), OUTPUTS.rl_parquet);
});
