// The format readers on real files written in each source's published layout, and the pure helpers they use.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readArrowBatches, readParquetBatches } from '../../datasets/io/arrow-batches.ts';
import { readJsonRecords } from '../../datasets/io/json-records.ts';
import { contentKey, normaliseProblem, parsePythonStringList } from '../../datasets/balance/normalise.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import { makeFixture, tempDir } from './helpers.ts';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

let fx: BalanceFixture;
before(async () => {
  fx = await makeFixture();
});

describe('JSON records', () => {
  it('streams every element of a pretty-printed JSON array with its line', async () => {
    const recs = await collect(readJsonRecords(join(fx.dir, 'deepscaler/deepscaler.json')));
    assert.equal(recs.length, fx.planted.deepscaler.rows);
    assert.deepEqual(recs.map((r) => r.row), recs.map((_, i) => i));
    const first = recs[0].value as Record<string, unknown>;
    assert.deepEqual(Object.keys(first), ['problem', 'answer', 'solution']);
    assert.equal(recs[0].line, 2);
  });

  it('reads a small-chunk array across chunk boundaries with escapes and nested values', async () => {
    const dir = await tempDir('json');
    const values = [{ a: 'x"]}\\', b: [1, { c: '[' }] }, 'plain', 3, { d: 'ü€😀' }];
    const path = join(dir, 'a.json');
    await writeFile(path, JSON.stringify(values, null, 2));
    const recs = await collect(readJsonRecords(path));
    assert.deepEqual(recs.map((r) => r.value), values);
  });

  it('accepts JSONL with blank lines', async () => {
    const dir = await tempDir('jsonl');
    const path = join(dir, 'a.jsonl');
    await writeFile(path, '{"a":1}\n\n{"a":2}\n');
    const recs = await collect(readJsonRecords(path));
    assert.deepEqual(recs.map((r) => [r.row, r.line, r.value]), [[0, 1, { a: 1 }], [1, 3, { a: 2 }]]);
  });

  it('names the file and line of a broken JSONL line', async () => {
    const dir = await tempDir('jsonl');
    const path = join(dir, 'broken.jsonl');
    await writeFile(path, '{"a":1}\n{"a":2}\n{"a": 3, "b\n{"a":4}\n');
    await assert.rejects(collect(readJsonRecords(path)), (err: Error) => {
      assert.equal(err.name, 'BadInputError');
      assert.match(err.message, /broken\.jsonl: line 3 is not valid JSON/u);
      return true;
    });
  });

  it('names the file of a truncated JSON array', async () => {
    const dir = await tempDir('json');
    const path = join(dir, 'cut.json');
    await writeFile(path, '[{"a": 1}, {"a": 2}, {"a"');
    await assert.rejects(collect(readJsonRecords(path)), /cut\.json: unexpected end of file inside the JSON array \(after 2 complete elements\)/u);
  });
});

describe('binary shards', () => {
  it('reads NuminaMath parquet row group by row group, projecting columns', async () => {
    const path = join(fx.dir, 'numina_math/data/train-00000-of-00003.parquet');
    const batches = await collect(readParquetBatches(path, ['problem', 'answer'], ['synthetic', 'no_such_column']));
    assert.ok(batches.length >= 3, 'several row groups');
    assert.deepEqual(batches[0].batch.schema.fields.map((f) => f.name), ['problem', 'answer', 'synthetic']);
    assert.equal(batches[1].firstRow, batches[0].batch.numRows);
    assert.equal(typeof batches[0].batch.getChild('synthetic')!.get(0), 'boolean');
  });

  it('names a required column a parquet file lacks', async () => {
    const path = join(fx.dir, 'numina_math/data/train-00000-of-00003.parquet');
    await assert.rejects(collect(readParquetBatches(path, ['problem', 'question'])), /lacks column\(s\) "question"/u);
  });

  it('reads TACO Arrow IPC stream shards batch by batch with spaced column names', async () => {
    const batches = await collect(readArrowBatches(join(fx.dir, 'taco/train/data-00001-of-00003.arrow')));
    assert.ok(batches.length > 1);
    const names = batches[0].batch.schema.fields.map((f) => f.name);
    assert.equal(names.length, 17);
    assert.ok(names.includes('Expected Time Complexity'));
    const total = batches.reduce((n, b) => n + b.batch.numRows, 0);
    assert.equal(batches[batches.length - 1].firstRow + batches[batches.length - 1].batch.numRows, total);
  });

  it('rejects a truncated parquet file and a corrupt Arrow file, naming them', async () => {
    const dir = await tempDir('bad');
    const { readFile } = await import('node:fs/promises');
    const pq = await readFile(join(fx.dir, 'numina_math/data/train-00001-of-00003.parquet'));
    await writeFile(join(dir, 'cut.parquet'), pq.subarray(0, Math.floor(pq.length / 2)));
    await assert.rejects(collect(readParquetBatches(join(dir, 'cut.parquet'), ['problem'])), (err: Error) => err.name === 'BadInputError' && /cut\.parquet/u.test(err.message));
    const arrow = await readFile(join(fx.dir, 'taco/train/data-00001-of-00003.arrow'));
    await writeFile(join(dir, 'cut.arrow'), arrow.subarray(0, Math.floor(arrow.length / 2)));
    await assert.rejects(collect(readArrowBatches(join(dir, 'cut.arrow'))), (err: Error) => err.name === 'BadInputError' && /cut\.arrow.*truncated/u.test(err.message));
    const garbage = Buffer.from(arrow);
    garbage.fill(7, 8, 400);
    await writeFile(join(dir, 'garbage.arrow'), garbage);
    await assert.rejects(collect(readArrowBatches(join(dir, 'garbage.arrow'))), (err: Error) => err.name === 'BadInputError' && /garbage\.arrow/u.test(err.message));
    await assert.rejects(collect(readArrowBatches(join(dir, 'missing.arrow'))), /missing\.arrow: input file not found/u);
  });
});

describe('text helpers', () => {
  it('normalises case, Unicode width and every kind of whitespace', () => {
    assert.equal(normaliseProblem('  Find  $x + y$\n\tif X=1 '), normaliseProblem('find $x+y$ if x = 1'));
    assert.equal(normaliseProblem('Ｘ'), 'x');
    assert.notEqual(contentKey('find x'), contentKey('find y'));
    assert.equal(contentKey('Find X'), contentKey(' find\nx'));
  });

  it('parses Python-literal tag lists, not JSON', () => {
    assert.deepEqual(parsePythonStringList("['Math', 'Greedy']"), ['Math', 'Greedy']);
    assert.deepEqual(parsePythonStringList(`["Dijkstra's algorithm", 'Sorting']`), ["Dijkstra's algorithm", 'Sorting']);
    assert.deepEqual(parsePythonStringList("['it\\'s', 'a\\\\b']"), ["it's", 'a\\b']);
    assert.deepEqual(parsePythonStringList('[]'), []);
    assert.deepEqual(parsePythonStringList('None'), []);
    assert.equal(parsePythonStringList("['unterminated"), null);
    assert.equal(parsePythonStringList('Math, Greedy'), null);
  });
});
