// Dedupe, seeded sampling and the published outputs, checked with an independent parquet reader (hyparquet).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ingestSource, selectBalanced, writeRejectsTable, writeRlDataset } from '../../datasets/balance/index.ts';
import type { IngestResult } from '../../datasets/balance/index.ts';
import { parseCodeGroundTruth } from '../../schemas/ground-truth.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import { makeFixture, parquetSchemaPaths, PRIORITY, readArrowFile, readParquetRows, sourceNamed, tempDir } from './helpers.ts';

const TEMPLATES = { math: '{problem}\n\nPut the answer in \\boxed{}.', code: '{problem}\n\n{starter_code_block}Write Python 3.' };

let fx: BalanceFixture;
let ingested: IngestResult[];
let work: string;
before(async () => {
  fx = await makeFixture();
  work = await tempDir('work');
  ingested = [];
  for (const source of fx.sources) ingested.push(await ingestSource({ source, baseDir: fx.dir, workDir: work }));
});

const inputsOf = (results: IngestResult[], take = 400) => results.map((r) => ({ source: r.source, candidates: r.candidates, take }));

async function selectedUids(path: string): Promise<string[]> {
  return [...(await readArrowFile(path)).getChild('uid')!].map(String);
}

describe('selectBalanced', () => {
  it('removes duplicates within and across sources, keeping the priority source', async () => {
    const sel = await selectBalanced({ inputs: inputsOf(ingested), seed: 7, priority: PRIORITY, shortfall: 'error', workDir: work });
    for (const [name, p] of Object.entries(fx.planted)) {
      const c = sel.counts[name];
      assert.equal(c.duplicateWithin, p.duplicateWithin, `${name} within`);
      assert.equal(c.duplicateAcross, p.duplicateAcross, `${name} across`);
      assert.equal(c.eligible, c.candidates - c.duplicateWithin - c.duplicateAcross);
      assert.equal(c.sampled, 400);
    }
    const rejects = await readArrowFile(sel.rejects.path);
    const across = rejects.toArray().filter((r) => r.reason === 'duplicate_across_sources');
    assert.equal(across.length, fx.planted.deepscaler.duplicateAcross);
    assert.ok(across.every((r) => r.source === 'deepscaler' && /kept in omni_math omni_math-[0-9a-f]{16}/u.test(r.detail)));
    const within = rejects.toArray().filter((r) => r.reason === 'duplicate_within_source');
    assert.ok(within.every((r) => /same problem as kept [a-z_]+-[0-9a-f]{16}/u.test(r.detail)));

    // With DeepScaleR first, the copies are kept there and Omni-MATH loses them instead.
    const flipped = await selectBalanced({ inputs: inputsOf(ingested), seed: 7, priority: ['deepscaler', 'omni_math'], shortfall: 'error', workDir: work });
    assert.equal(flipped.counts.omni_math.duplicateAcross, fx.planted.deepscaler.duplicateAcross);
    assert.equal(flipped.counts.deepscaler.duplicateAcross, 0);
  });

  it('is a pure function of seed and content: same seed same bytes, other seed other sample', async () => {
    const a = await selectBalanced({ inputs: inputsOf(ingested), seed: 1, priority: PRIORITY, shortfall: 'error', workDir: await tempDir('w') });
    const b = await selectBalanced({ inputs: inputsOf(ingested), seed: 1, priority: PRIORITY, shortfall: 'error', workDir: await tempDir('w') });
    assert.equal(a.selected.sha256, b.selected.sha256);
    assert.equal(a.rejects.sha256, b.rejects.sha256);
    const c = await selectBalanced({ inputs: inputsOf(ingested), seed: 2, priority: PRIORITY, shortfall: 'error', workDir: work });
    const ua = new Set(await selectedUids(a.selected.path));
    const uc = await selectedUids(c.selected.path);
    assert.equal(uc.length, 2000);
    const overlap = uc.filter((u) => ua.has(u)).length;
    assert.ok(overlap < 2000 && overlap > 1000, `a different seed changes part of the sample (overlap ${overlap})`);
  });

  it('does not depend on file order or on the TACO reader', async () => {
    const w = await tempDir('w');
    const numina = sourceNamed(fx, 'numina_math');
    const reversed = await ingestSource({
      source: { ...numina, files: ['numina_math/data/train-00002-of-00003.parquet', 'numina_math/data/train-00001-of-00003.parquet', 'numina_math/data/train-00000-of-00003.parquet'] },
      baseDir: fx.dir,
      workDir: w,
    });
    const tacoParquet = await ingestSource({ source: { ...sourceNamed(fx, 'taco_code'), format: 'taco_parquet', files: ['taco_parquet/*.parquet'] }, baseDir: fx.dir, workDir: w });
    assert.notEqual(reversed.candidates.sha256, ingested.find((r) => r.source === 'numina_math')!.candidates.sha256);
    const swapped = ingested.map((r) => (r.source === 'numina_math' ? reversed : r.source === 'taco_code' ? tacoParquet : r)).reverse();
    const a = await selectBalanced({ inputs: inputsOf(ingested), seed: 3, priority: PRIORITY, shortfall: 'error', workDir: w });
    const b = await selectBalanced({ inputs: inputsOf(swapped), seed: 3, priority: PRIORITY, shortfall: 'error', workDir: w });
    assert.deepEqual(await selectedUids(b.selected.path), await selectedUids(a.selected.path));
    assert.deepEqual(b.counts, a.counts);
  });

  it('fails on a shortfall naming the source, or takes all and records it', async () => {
    const inputs = inputsOf(ingested).map((i) => (i.source === 'leetcode_code' ? { ...i, take: 600 } : i));
    await assert.rejects(selectBalanced({ inputs, seed: 1, priority: PRIORITY, shortfall: 'error', workDir: work }), (err: Error) => {
      assert.equal(err.name, 'ShortfallError');
      assert.match(err.message, /"leetcode_code" has 520 eligible rows .* but 600 were asked/u);
      return true;
    });
    const r = await selectBalanced({ inputs, seed: 1, priority: PRIORITY, shortfall: 'take_all', workDir: work });
    assert.deepEqual([r.counts.leetcode_code.sampled, r.counts.leetcode_code.shortfall], [520, 80]);
    assert.equal(r.selected.rows, 2120);
  });
});

describe('writeRlDataset and writeRejectsTable', () => {
  it('writes verl-layout parquet (3-level lists, element children) that an independent reader reads back', async () => {
    const sel = await selectBalanced({ inputs: inputsOf(ingested), seed: 1, priority: PRIORITY, shortfall: 'error', workDir: work });
    const out = await tempDir('out');
    const { parquet, arrow } = await writeRlDataset({ selected: sel.selected, templates: TEMPLATES, agentName: 'tool_agent', split: 'train', outDir: out });
    assert.equal(parquet.path, join(out, 'rl.parquet'));
    assert.equal(arrow.path, join(out, 'rl.arrow'));
    const paths = await parquetSchemaPaths(parquet.path);
    for (const p of ['prompt.list.element.role', 'prompt.list.element.content', 'reward_model.ground_truth', 'extra_info.index', 'extra_info.tags.list.element', 'agent_name']) {
      assert.ok(paths.includes(p), `parquet column ${p}`);
    }
    const rows = await readParquetRows(parquet.path);
    assert.equal(rows.length, 2000);
    const sources = rows.map((r) => r.data_source as string);
    assert.deepEqual(sources, [...sources].sort(), 'ordered by data_source');
    const counts: Record<string, number> = {};
    for (const s of sources) counts[s] = (counts[s] ?? 0) + 1;
    assert.deepEqual(counts, { deepscaler: 400, leetcode_code: 400, numina_math: 400, omni_math: 400, taco_code: 400 });
    rows.forEach((r, i) => {
      const prompt = r.prompt as { role: string; content: string }[];
      assert.equal(prompt.length, 1);
      assert.equal(prompt[0].role, 'user');
      const extra = r.extra_info as Record<string, unknown>;
      assert.equal(extra.split, 'train');
      assert.equal(BigInt(extra.index as bigint), BigInt(i));
      assert.equal(r.agent_name, 'tool_agent');
      const rm = r.reward_model as { style: string; ground_truth: string };
      assert.equal(rm.style, 'rule');
      if (r.ability === 'code') parseCodeGroundTruth(rm.ground_truth, `row ${i}`);
      else assert.ok(rm.ground_truth.length > 0 && !/^(proof|notfound)$/iu.test(rm.ground_truth));
    });
    const leet = rows.find((r) => r.data_source === 'leetcode_code')!;
    assert.equal(JSON.parse((leet.reward_model as { ground_truth: string }).ground_truth).kind, 'leetcode');
    const leetPrompt = (leet.prompt as { content: string }[])[0].content;
    assert.match(leetPrompt, /\n\n```python\nclass Solution:\n {4}def solve\d+\(self, a: int, b: int\) -> int:\n```\nWrite Python 3\.$/u);
    const stdin = rows.find((r) => r.data_source === 'taco_code' && !JSON.parse((r.reward_model as { ground_truth: string }).ground_truth).fn_name)!;
    assert.match((stdin.prompt as { content: string }[])[0].content, /-----Output-----\nOne number\.\n\nWrite Python 3\.$/u, 'no starter code block when there is none');
    const math = rows.find((r) => r.ability === 'math')!;
    assert.match((math.prompt as { content: string }[])[0].content, /\n\nPut the answer in \\boxed\{\}\.$/u);

    const table = await readArrowFile(arrow.path);
    assert.equal(table.numRows, 2000);
    assert.deepEqual(table.getChild('data_source')!.toArray(), sources);

    const again = await writeRlDataset({ selected: sel.selected, templates: TEMPLATES, agentName: 'tool_agent', split: 'train', outDir: await tempDir('out') });
    assert.equal(again.parquet.sha256, parquet.sha256, 'byte-identical parquet');
    assert.equal(again.arrow.sha256, arrow.sha256, 'byte-identical arrow');
  });

  it('collects every rejected row with its reason: read = rejected + sampled + unsampled eligible', async () => {
    const sel = await selectBalanced({ inputs: inputsOf(ingested), seed: 1, priority: PRIORITY, shortfall: 'error', workDir: work });
    const out = await tempDir('out');
    const ref = await writeRejectsTable({ rejects: [...ingested.map((r) => r.rejects), sel.rejects], outDir: out });
    assert.equal(ref.path, join(out, 'rejects.parquet'));
    const rows = await readParquetRows(ref.path);
    assert.equal(rows.length, ref.rows);
    for (const r of ingested) {
      const mine = rows.filter((x) => x.source === r.source);
      const c = sel.counts[r.source];
      assert.equal(r.counts.read, mine.length + c.eligible, `${r.source}: every row is either rejected or eligible`);
      assert.ok(mine.every((x) => typeof x.reason === 'string' && typeof x.file === 'string' && x.detail !== undefined));
    }
    const bytes = await readFile(ref.path);
    assert.equal(bytes.subarray(0, 4).toString(), 'PAR1');
  });
});
