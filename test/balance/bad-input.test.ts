// Bad input the balance library must not take quietly: each case either fails with BadInputError naming the file
// and where in it (and leaves no half-written part files), or rejects exactly the damaged row with a reason.
// The damaged files are made at test time from the generated fixtures (test/balance/corrupt-inputs.ts).
import assert from 'node:assert/strict';
import { appendFile, cp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ingestSource, selectBalanced, writeRlDataset } from '../../datasets/balance/index.ts';
import type { IngestResult } from '../../datasets/balance/index.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import { breakUtf8Of, corruptParquetPage, gzipInPlace, numinaWithTypes, prependBom, tacoWithBrokenOffsets } from './corrupt-inputs.ts';
import { makeFixture, PRIORITY, readArrowFile, sourceNamed, tempDir } from './helpers.ts';

let fx: BalanceFixture;
before(async () => {
  fx = await makeFixture();
});

/** A private copy of the fixtures (the tests damage files). */
async function copy(): Promise<string> {
  const dir = await tempDir('bad');
  await cp(fx.dir, dir, { recursive: true });
  return dir;
}

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String);
}

/** Ingests `source` from `dir` expecting a BadInputError whose message matches every pattern. */
async function rejectsWith(source: SourceConfig, dir: string, ...patterns: RegExp[]): Promise<string> {
  const work = await tempDir('badwork');
  let message = '';
  await assert.rejects(ingestSource({ source, baseDir: dir, workDir: work }), (err: Error) => {
    assert.equal(err.name, 'BadInputError', err.stack);
    for (const p of patterns) assert.match(err.message, p);
    message = err.message;
    return true;
  });
  const left = (await filesUnder(work)).filter((f) => f.includes('.tmp-'));
  assert.deepEqual(left, [], 'a failed ingest leaves no temporary part files');
  return message;
}

describe('binary files damaged inside', () => {
  it('a parquet page corrupted behind an intact footer fails at once naming file, row group and columns', async () => {
    const dir = await copy();
    const shard = join(dir, 'numina_math/data/train-00001-of-00003.parquet');
    corruptParquetPage(shard, 'problem', 1);
    const msg = await rejectsWith(sourceNamed(fx, 'numina_math'), dir, /row group 1 \(columns problem, answer/u, /a page of a column chunk is corrupt/u);
    assert.ok(msg.startsWith(`${shard}: `), msg);
  });

  it('an Arrow shard with invalid UTF-8 in a value fails naming file, batch, column and row', async () => {
    const dir = await copy();
    const shard = join(dir, 'taco/train/data-00001-of-00003.arrow');
    const table = await readArrowFile(shard);
    // A question in the shard's third batch (64 rows per batch in the fixtures).
    const question = String(table.getChild('question')!.get(130));
    breakUtf8Of(shard, question.slice(0, 40));
    await rejectsWith(sourceNamed(fx, 'taco_code'), dir, new RegExp(`^${shard}: Arrow batch 2, column "question": row 2 is not valid UTF-8`, 'u'));
  });

  it('an Arrow shard whose offsets go backwards fails naming file, batch and column', async () => {
    const dir = await tempDir('offsets');
    tacoWithBrokenOffsets(join(dir, 'data-00000-of-00001.arrow'));
    const taco = { ...sourceNamed(fx, 'taco_code'), files: ['data-*.arrow'] };
    await rejectsWith(taco, dir, /data-00000-of-00001\.arrow: Arrow batch 1, column "question": offsets decrease at row 1/u);
  });
});

describe('columns of the wrong type', () => {
  it('an int64 answer column fails at once naming file, column, expected and found type', async () => {
    const dir = await tempDir('types');
    numinaWithTypes(join(dir, 'train-00000-of-00001.parquet'), 'answer-int64');
    const numina = { ...sourceNamed(fx, 'numina_math'), files: ['train-*.parquet'] };
    await rejectsWith(numina, dir, /train-00000-of-00001\.parquet: column "answer" has type Int64, expected string/u);
  });

  it('bool validity flags fail the same way', async () => {
    const dir = await tempDir('types');
    numinaWithTypes(join(dir, 'train-00000-of-00001.parquet'), 'flags-bool');
    const numina = { ...sourceNamed(fx, 'numina_math'), files: ['train-*.parquet'] };
    await rejectsWith(numina, dir, /column "problem_is_valid" has type Bool, expected string/u);
  });
});

describe('JSON and JSONL text', () => {
  it('a JSONL line with invalid UTF-8 is rejected as that row, naming the line; nothing is decoded with replacements', async () => {
    const dir = await copy();
    const file = join(dir, 'omni_math/test.jsonl');
    const line5 = JSON.parse((await readFile(file, 'utf8')).split('\n')[4]) as { problem: string };
    breakUtf8Of(file, line5.problem.slice(0, 30));
    const source = sourceNamed(fx, 'omni_math');
    const pristine = await ingestSource({ source, baseDir: fx.dir, workDir: await tempDir('w') });
    const r = await ingestSource({ source, baseDir: dir, workDir: await tempDir('w') });
    assert.equal(r.counts.read, pristine.counts.read);
    assert.equal(r.counts.rejected.malformed_row ?? 0, (pristine.counts.rejected.malformed_row ?? 0) + 1);
    const rejects = (await readArrowFile(r.rejects.path)).toArray().filter((x) => x.reason === 'malformed_row');
    const row = rejects.find((x) => Number(x.row) === 4);
    assert.ok(row, 'row 4 (line 5) is the reject');
    assert.equal(row.file, 'test.jsonl');
    assert.match(row.detail, /^line 5 is not valid UTF-8 \(first bad byte at offset \d+/u);
    const problems = (await readArrowFile(r.candidates.path)).getChild('problem')!.toArray() as string[];
    assert.ok(!problems.some((p) => p.includes('\ufffd')), 'no candidate carries a replacement character');
  });

  it('a JSON array element with invalid UTF-8 is rejected naming element and line', async () => {
    const dir = await copy();
    const file = join(dir, 'deepscaler/deepscaler.json');
    const text = await readFile(file, 'utf8');
    const problem = JSON.parse(text)[10].problem as string;
    breakUtf8Of(file, problem.slice(0, 30));
    const r = await ingestSource({ source: sourceNamed(fx, 'deepscaler'), baseDir: dir, workDir: await tempDir('w') });
    const row = (await readArrowFile(r.rejects.path)).toArray().find((x) => Number(x.row) === 10);
    assert.ok(row);
    assert.equal(row.reason, 'malformed_row');
    assert.match(row.detail, /^element 10 \(line \d+\) is not valid UTF-8/u);
  });

  it('a UTF-8 byte order mark at the start is accepted, as pyarrow and HF datasets do: same candidates', async () => {
    const dir = await copy();
    for (const f of ['deepscaler/deepscaler.json', 'omni_math/test.jsonl']) prependBom(join(dir, f));
    for (const name of ['deepscaler', 'omni_math']) {
      const plain = await ingestSource({ source: sourceNamed(fx, name), baseDir: fx.dir, workDir: await tempDir('w') });
      const bom = await ingestSource({ source: sourceNamed(fx, name), baseDir: dir, workDir: await tempDir('w') });
      assert.equal(bom.candidates.sha256, plain.candidates.sha256, name);
      assert.deepEqual(bom.counts, plain.counts, name);
    }
  });

  it('a gzip file given as JSONL fails saying it is gzip-compressed', async () => {
    const dir = await copy();
    const file = join(dir, 'leetcode/LeetCodeDataset-train.jsonl');
    gzipInPlace(file);
    const msg = await rejectsWith(sourceNamed(fx, 'leetcode_code'), dir, /is gzip-compressed/u);
    assert.ok(msg.startsWith(`${file}: `), msg);
  });

  it('a 0-byte input file fails naming it', async () => {
    const dir = await copy();
    const file = join(dir, 'deepscaler/deepscaler.json');
    await writeFile(file, '');
    await rejectsWith(sourceNamed(fx, 'deepscaler'), dir, new RegExp(`^${file}: input file is empty \\(0 bytes\\)`, 'u'));
  });
});

describe('select', () => {
  let ingested: IngestResult[];
  before(async () => {
    const work = await tempDir('sel');
    ingested = [];
    for (const source of fx.sources) ingested.push(await ingestSource({ source, baseDir: fx.dir, workDir: work }));
  });

  it('a shortfall error lists every short source, not the first', async () => {
    const take = (s: string) => (s === 'omni_math' || s === 'taco_code' ? 100_000 : 10);
    const inputs = ingested.map((r) => ({ source: r.source, candidates: r.candidates, take: take(r.source) }));
    await assert.rejects(selectBalanced({ inputs, seed: 1, priority: PRIORITY, shortfall: 'error', workDir: await tempDir('w') }), (err: Error & { shorts?: { source: string }[] }) => {
      assert.equal(err.name, 'ShortfallError');
      assert.deepEqual(err.shorts?.map((s) => s.source), ['omni_math', 'taco_code']);
      assert.match(err.message, /source "omni_math" has \d+ eligible rows .* but 100000 were asked for; source "taco_code" has \d+/u);
      return true;
    });
  });

  it('a candidates file changed after it was written is refused before it is read', async () => {
    const work = await tempDir('w');
    const victim = ingested.find((r) => r.source === 'leetcode_code')!;
    const moved = join(work, 'candidates.arrow');
    await cp(victim.candidates.path, moved);
    await appendFile(moved, 'x');
    const inputs = ingested.map((r) => ({ source: r.source, candidates: r === victim ? { ...r.candidates, path: moved } : r.candidates, take: 10 }));
    await assert.rejects(selectBalanced({ inputs, seed: 1, priority: PRIORITY, shortfall: 'error', workDir: work }), {
      name: 'BadInputError',
      message: new RegExp(`artifact ${moved} changed since it was written`, 'u'),
    });
  });

  it('a selected file with one byte changed (same size) is refused by the writer, naming the sha256 mismatch', async () => {
    const work = await tempDir('w');
    const inputs = ingested.map((r) => ({ source: r.source, candidates: r.candidates, take: 10 }));
    const sel = await selectBalanced({ inputs, seed: 1, priority: PRIORITY, shortfall: 'error', workDir: work });
    const bytes = await readFile(sel.selected.path);
    bytes[bytes.length >> 1] ^= 0x01;
    await writeFile(sel.selected.path, bytes);
    const templates = { math: '{problem}', code: '{problem}' };
    await assert.rejects(writeRlDataset({ selected: sel.selected, templates, agentName: 'a', split: 'train', outDir: work }), {
      name: 'BadInputError',
      message: new RegExp(`artifact ${sel.selected.path} changed since it was written: sha256`, 'u'),
    });
  });
});
