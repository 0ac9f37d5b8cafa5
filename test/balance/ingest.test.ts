// ingestSource end to end on generated files in the real formats: exact counts of planted quirks, reader
// equivalence (JSON array vs JSONL, TACO Arrow vs parquet), bad input errors across the worker boundary, resume.
import assert from 'node:assert/strict';
import { readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ingestSource } from '../../datasets/balance/index.ts';
import type { IngestProgress, IngestResult } from '../../datasets/balance/index.ts';
import { sha256File } from '../../core/digest.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import { makeFixture, readArrowFile, sourceNamed, tempDir } from './helpers.ts';

let fx: BalanceFixture;
before(async () => {
  fx = await makeFixture();
});

async function uids(r: IngestResult): Promise<string[]> {
  const t = await readArrowFile(r.candidates.path);
  return [...t.getChild('uid')!].map(String).sort();
}

describe('ingestSource', () => {
  it('accounts for every row of every source: read = rejected + eligible, with the planted reasons', async () => {
    const work = await tempDir('work');
    for (const source of fx.sources) {
      const r = await ingestSource({ source, baseDir: fx.dir, workDir: work });
      const p = fx.planted[source.name];
      assert.equal(r.counts.read, p.rows, `${source.name} read`);
      assert.deepEqual(r.counts.rejected, p.rejected, `${source.name} reasons`);
      const rejected = Object.values(r.counts.rejected).reduce((a, b) => a + b, 0);
      assert.equal(r.counts.eligible, r.counts.read - rejected);
      assert.equal(r.candidates.rows, r.counts.eligible);
      assert.equal(r.rejects.rows, rejected);
      assert.equal((await readArrowFile(r.candidates.path)).numRows, r.counts.eligible);
      for (const input of r.inputs) assert.equal(input.sha256, await sha256File(input.path));
      assert.ok(r.counts.eligible > 400, `${source.name} has more than 400 eligible rows`);
    }
  });

  it('writes reject rows naming source, file, row and reason', async () => {
    const r = await ingestSource({ source: sourceNamed(fx, 'numina_math'), baseDir: fx.dir, workDir: await tempDir('work') });
    const t = await readArrowFile(r.rejects.path);
    const row = t.get(0)!.toJSON() as Record<string, unknown>;
    assert.equal(row.source, 'numina_math');
    // The shards share numina_math/data/, so each is named by its base name (datasets/balance/source-file.ts).
    assert.equal(row.file, 'train-00000-of-00003.parquet');
    assert.equal(typeof row.row, 'bigint');
    const reasons = new Set([...t.getChild('reason')!].map(String));
    assert.deepEqual([...reasons].sort(), ['empty_answer', 'invalid_flag', 'non_verifiable_answer', 'question_type']);
    const details = [...t.getChild('detail')!].map(String);
    assert.ok(details.some((d) => /problem_is_valid "No"|solution_is_valid "No"/u.test(d)));
  });

  it('gives the same candidates from DeepScaleR as a JSON array and as JSONL', async () => {
    const work = await tempDir('work');
    const arr = JSON.parse(await readFile(join(fx.dir, 'deepscaler/deepscaler.json'), 'utf8')) as unknown[];
    await writeFile(join(fx.dir, 'deepscaler/deepscaler.jsonl'), arr.map((x) => JSON.stringify(x)).join('\n') + '\n');
    const a = await ingestSource({ source: sourceNamed(fx, 'deepscaler'), baseDir: fx.dir, workDir: work });
    const b = await ingestSource({ source: { ...sourceNamed(fx, 'deepscaler'), files: ['deepscaler/deepscaler.jsonl'] }, baseDir: fx.dir, workDir: work });
    assert.deepEqual(b.counts, a.counts);
    assert.deepEqual(await uids(b), await uids(a));
  });

  it('gives the same candidates from TACO Arrow stream shards and its parquet copy', async () => {
    const work = await tempDir('work');
    const arrow = await ingestSource({ source: sourceNamed(fx, 'taco_code'), baseDir: fx.dir, workDir: work });
    const parquet = await ingestSource({
      source: { ...sourceNamed(fx, 'taco_code'), format: 'taco_parquet', files: ['taco_parquet/*.parquet'] },
      baseDir: fx.dir,
      workDir: work,
    });
    assert.deepEqual(parquet.counts, arrow.counts);
    assert.deepEqual(await uids(parquet), await uids(arrow));
    const t = await readArrowFile(arrow.candidates.path);
    const tags = [...t.getChild('tags')!].filter((x) => x !== null).map((x) => JSON.parse(String(x)) as string[]);
    assert.ok(tags.some((list) => list.includes("Dijkstra's algorithm")), 'Python-literal tags parsed');
  });

  it('gives the same bytes whether one worker reads all files or several lanes share them', async () => {
    for (const name of ['numina_math', 'taco_code']) {
      const source = sourceNamed(fx, name);
      const one = await ingestSource({ source, baseDir: fx.dir, workDir: await tempDir('work'), lanes: 1 });
      const reports: IngestProgress[] = [];
      const three = await ingestSource({ source, baseDir: fx.dir, workDir: await tempDir('work'), lanes: 3, onProgress: (p) => reports.push(p as IngestProgress) });
      assert.equal(three.candidates.sha256, one.candidates.sha256, name);
      assert.equal(three.rejects.sha256, one.rejects.sha256, name);
      assert.deepEqual(three.counts, one.counts);
      assert.deepEqual(three.inputs, one.inputs, 'inputs in file order');
      const last = reports[reports.length - 1];
      assert.deepEqual(last.done.map((d) => d.input.path), one.inputs.map((i) => i.path), 'progress lists finished files in file order');
    }
  });

  it('reports the failing file, not a cancellation, when one lane hits bad input', async () => {
    const dir = await tempDir('badlane');
    const shards = ['train-00000-of-00003.parquet', 'train-00001-of-00003.parquet', 'train-00002-of-00003.parquet'];
    for (const s of shards) await writeFile(join(dir, s), await readFile(join(fx.dir, 'numina_math/data', s)));
    const pq = await readFile(join(dir, shards[1]));
    await writeFile(join(dir, shards[1]), pq.subarray(0, pq.length - 100));
    const numina = sourceNamed(fx, 'numina_math');
    await assert.rejects(ingestSource({ source: { ...numina, files: ['train-*.parquet'] }, baseDir: dir, workDir: dir, lanes: 2 }), {
      name: 'BadInputError',
      message: /train-00001-of-00003\.parquet/u,
    });
  });

  it('applies filters from the recipe: max_tests trims, min_difficulty rejects', async () => {
    const work = await tempDir('work');
    const taco = sourceNamed(fx, 'taco_code');
    const r = await ingestSource({ source: { ...taco, filters: { ...taco.filters, max_tests: 2 } }, baseDir: fx.dir, workDir: work });
    const t = await readArrowFile(r.candidates.path);
    for (const gt of t.getChild('ground_truth')!) {
      const v = JSON.parse(String(gt)) as { inputs: unknown[]; outputs: unknown[] };
      assert.ok(v.inputs.length <= 2 && v.inputs.length === v.outputs.length);
    }
    const omni = sourceNamed(fx, 'omni_math');
    const o = await ingestSource({ source: { ...omni, filters: { ...omni.filters, min_difficulty: 5 } }, baseDir: fx.dir, workDir: work });
    assert.ok((o.counts.rejected.difficulty_out_of_range ?? 0) > 50);
  });

  it('applies max_tests to LeetCode: input_output trimmed into the ground truth, the runnable test kept whole', async () => {
    const work = await tempDir('work');
    const leet = sourceNamed(fx, 'leetcode_code');
    type Gt = { kind: string; prompt: string; test: string; entry_point: string; input_output?: { input: string; output: string }[] };
    const groundTruths = async (maxTests: number): Promise<Map<string, Gt>> => {
      const r = await ingestSource({ source: { ...leet, filters: { ...leet.filters, max_tests: maxTests } }, baseDir: fx.dir, workDir: work });
      const t = await readArrowFile(r.candidates.path);
      const rows = t.getChild('source_row')!.toArray() as BigInt64Array;
      const gts = [...t.getChild('ground_truth')!].map((g) => JSON.parse(String(g)) as Gt);
      return new Map(gts.map((g, i) => [String(rows[i]), g]));
    };
    const whole = await groundTruths(0);
    const trimmed = await groundTruths(3);
    assert.equal(trimmed.size, whole.size, 'max_tests trims, it never rejects');
    const source = (await readFile(join(fx.dir, leet.files[0]), 'utf8')).split('\n').filter((l) => l.trim() !== '');
    let cut = 0;
    for (const [row, w] of whole) {
      assert.deepEqual(Object.keys(w), ['kind', 'prompt', 'test', 'entry_point'], 'without max_tests the ground truth is unchanged');
      const g = trimmed.get(row)!;
      assert.equal(g.test, w.test, 'the check() source is kept whole');
      assert.equal(g.entry_point, w.entry_point);
      const published = (JSON.parse(source[Number(row)]) as { input_output: { input: string; output: string }[] }).input_output;
      assert.deepEqual(g.input_output, published.slice(0, 3));
      if (published.length > 3) cut++;
    }
    assert.ok(cut > 50, `some rows had more than 3 cases to trim (${cut})`);
  });
});

describe('bad input', () => {
  it('fails with BadInputError naming the file and line of a broken JSONL line', async () => {
    const dir = await tempDir('badsrc');
    const text = await readFile(join(fx.dir, 'leetcode/LeetCodeDataset-train.jsonl'), 'utf8');
    const lines = text.split('\n');
    lines[6] = lines[6].slice(0, 40);
    await writeFile(join(dir, 'lc.jsonl'), lines.join('\n'));
    const source: SourceConfig = { ...sourceNamed(fx, 'leetcode_code'), files: ['lc.jsonl'] };
    await assert.rejects(ingestSource({ source, baseDir: dir, workDir: dir }), (err: Error) => {
      assert.equal(err.name, 'BadInputError');
      assert.match(err.message, /lc\.jsonl: line 7 is not valid JSON/u);
      return true;
    });
  });

  it('fails with BadInputError for a truncated parquet shard, a missing file and a glob that matches nothing', async () => {
    const dir = await tempDir('badsrc');
    const pq = await readFile(join(fx.dir, 'numina_math/data/train-00000-of-00003.parquet'));
    await writeFile(join(dir, 'train-00000-of-00001.parquet'), pq.subarray(0, pq.length - 100));
    const numina = sourceNamed(fx, 'numina_math');
    await assert.rejects(ingestSource({ source: { ...numina, files: ['train-*.parquet'] }, baseDir: dir, workDir: dir }), (err: Error) => {
      assert.equal(err.name, 'BadInputError');
      assert.match(err.message, /train-00000-of-00001\.parquet/u);
      return true;
    });
    await assert.rejects(ingestSource({ source: { ...numina, files: ['nope.parquet'] }, baseDir: dir, workDir: dir }), { name: 'BadInputError', message: /nope\.parquet: input file not found/u });
    await assert.rejects(ingestSource({ source: { ...numina, files: ['none-*.parquet'] }, baseDir: dir, workDir: dir }), { name: 'BadInputError', message: /no file matches/u });
  });

  it('fails with BadInputError for a corrupt TACO Arrow shard', async () => {
    const dir = await tempDir('badsrc');
    const bytes = Buffer.from(await readFile(join(fx.dir, 'taco/train/data-00000-of-00003.arrow')));
    await writeFile(join(dir, 'data-00000-of-00001.arrow'), bytes.subarray(0, bytes.length - 1000));
    const taco = sourceNamed(fx, 'taco_code');
    await assert.rejects(ingestSource({ source: { ...taco, files: ['data-*.arrow'] }, baseDir: dir, workDir: dir }), { name: 'BadInputError', message: /data-00000-of-00001\.arrow/u });
  });
});

describe('resume', () => {
  it('reuses finished files from a progress snapshot and produces identical outputs', async () => {
    const numina = sourceNamed(fx, 'numina_math');
    const shard0 = 'numina_math/data/train-00000-of-00003.parquet';
    const fresh = await ingestSource({ source: numina, baseDir: fx.dir, workDir: await tempDir('work') });

    // An attempt that got through the first file only, then died: its last heartbeat.
    const work = await tempDir('work');
    let snapshot: unknown;
    await ingestSource({ source: { ...numina, files: [shard0] }, baseDir: fx.dir, workDir: work, onProgress: (p) => (snapshot = JSON.parse(JSON.stringify(p))) });
    assert.equal((snapshot as IngestProgress).done.length, 1);

    const seen: IngestProgress[] = [];
    const resumed = await ingestSource({ source: numina, baseDir: fx.dir, workDir: work, resume: snapshot, onProgress: (p) => seen.push(p as IngestProgress) });
    assert.ok(!seen.some((p) => p.current?.path.endsWith('train-00000-of-00003.parquet')), 'first file was not read again');
    assert.ok(seen.some((p) => p.current?.path.endsWith('train-00001-of-00003.parquet')));
    assert.equal(resumed.candidates.sha256, fresh.candidates.sha256);
    assert.equal(resumed.rejects.sha256, fresh.rejects.sha256);
    assert.deepEqual(resumed.counts, fresh.counts);

    // A damaged part file is detected by its digest and redone; the result is still identical.
    const part = (snapshot as IngestProgress).done[0].candidates.path;
    await appendFile(part, 'x');
    const seen2: IngestProgress[] = [];
    const redone = await ingestSource({ source: numina, baseDir: fx.dir, workDir: work, resume: snapshot, onProgress: (p) => seen2.push(p as IngestProgress) });
    assert.ok(seen2.some((p) => p.current?.path.endsWith('train-00000-of-00003.parquet')), 'damaged part was redone');
    assert.equal(redone.candidates.sha256, fresh.candidates.sha256);
  });
});
