// Lineage identity of input files (datasets/balance/source-file.ts): the RL set's bytes depend on which files a
// source resolves to, never on base_dir or on how the recipe spelled their paths, so a selection started from the
// CLI (paths relative to the recipe file's folder) and from the Web UI (another base_dir, absolute paths) has the
// same sha256.
import assert from 'node:assert/strict';
import { copyFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ingestSource, selectBalanced, writeRejectsTable, writeRlDataset } from '../../datasets/balance/index.ts';
import type { IngestProgress } from '../../datasets/balance/index.ts';
import { sourceFileIds } from '../../datasets/balance/source-file.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import { makeFixture, PRIORITY, readArrowFile, readParquetRows, sourceNamed, tempDir } from './helpers.ts';

const TEMPLATES = { math: '{problem}\n\nPut the answer in \\boxed{}.', code: '{problem}\n\n{starter_code_block}Write Python 3.' };

let fx: BalanceFixture;
before(async () => {
  fx = await makeFixture();
});

/** The whole balance path (ingest, select, write) over `sources` resolved against `baseDir`. */
async function balance(sources: SourceConfig[], baseDir: string) {
  const work = await tempDir('lineage');
  const ingested = [];
  for (const source of sources) ingested.push(await ingestSource({ source, baseDir, workDir: work }));
  const sel = await selectBalanced({
    inputs: ingested.map((r) => ({ source: r.source, candidates: r.candidates, take: 400 })),
    seed: 42,
    priority: PRIORITY,
    shortfall: 'error',
    workDir: work,
  });
  const rl = await writeRlDataset({ selected: sel.selected, templates: TEMPLATES, agentName: 'tool_agent', split: 'train', outDir: work });
  const rejects = await writeRejectsTable({ rejects: [...ingested.map((r) => r.rejects), sel.rejects], outDir: work });
  return { rl, rejects, digests: { selected: sel.selected.sha256, rl_parquet: rl.parquet.sha256, rl_arrow: rl.arrow.sha256, rejects: rejects.sha256 } };
}

/** `numina_math/data/x` -> `<fx.dir>/numina_math/./data/../data/x`: the same file, spelled another way. */
function respelled(file: string): string {
  const parts = file.split('/');
  const dir = parts.slice(0, -1);
  const last = dir.length ? dir[dir.length - 1] : '.';
  return [fx.dir, ...dir.slice(0, -1), '.', ...(dir.length ? [last, '..', last] : []), parts[parts.length - 1]].join('/');
}

describe('sourceFileIds', () => {
  it('names a single file by its base name and shards of one folder by theirs', () => {
    assert.deepEqual(sourceFileIds(['/data/omni/test.jsonl']), ['test.jsonl']);
    assert.deepEqual(sourceFileIds(['/d/numina/data/train-00000-of-00002.parquet', '/d/numina/data/train-00001-of-00002.parquet']), [
      'train-00000-of-00002.parquet',
      'train-00001-of-00002.parquet',
    ]);
  });

  it('keeps the sub-paths that tell files in different folders apart, in the order given', () => {
    assert.deepEqual(sourceFileIds(['/d/x/b/train.parquet', '/d/x/a/train.parquet', '/d/x/train.parquet']), ['b/train.parquet', 'a/train.parquet', 'train.parquet']);
    assert.deepEqual(sourceFileIds(['/a.json', '/b/a.json']), ['a.json', 'b/a.json']);
    assert.deepEqual(sourceFileIds(['/d/ab/x', '/d/a/x']), ['ab/x', 'a/x'], 'folders are compared whole, not by characters');
  });

  it('refuses a path that was not resolved', () => {
    assert.throws(() => sourceFileIds(['data/x.json']), /data\/x\.json is not an absolute path/u);
  });
});

describe('the RL set does not depend on base_dir or path spelling', () => {
  it('relative paths from the data folder, from its parent, and absolute respelled paths give byte-identical outputs', async () => {
    const cli = await balance(fx.sources, fx.dir);
    // A Web UI run: the worker's own folder as base_dir, the same files named from there...
    const parent = dirname(fx.dir);
    const fromParent = fx.sources.map((s) => ({ ...s, files: s.files.map((f) => `${basename(fx.dir)}/${f}`) }));
    // ...or as absolute paths with `.` and `..` segments (globs included), resolved against an unrelated folder.
    const absolute = fx.sources.map((s) => ({ ...s, files: s.files.map(respelled) }));
    assert.ok(absolute.some((s) => s.files.some((f) => f.includes('/../') && f.includes('*'))), 'a respelled glob is among them');
    const ui = await balance(fromParent, parent);
    const abs = await balance(absolute, await tempDir('elsewhere'));
    assert.deepEqual(ui.digests, cli.digests);
    assert.deepEqual(abs.digests, cli.digests);

    // What the rows record: each file's path below its source's common folder.
    const rows = (await readParquetRows(cli.rl.parquet.path)) as { data_source: string; extra_info: { source_file: string } }[];
    const files = new Map<string, Set<string>>();
    for (const r of rows) files.set(r.data_source, (files.get(r.data_source) ?? new Set()).add(r.extra_info.source_file));
    assert.deepEqual([...files.get('deepscaler')!], ['deepscaler.json']);
    assert.deepEqual([...files.get('omni_math')!], ['test.jsonl']);
    assert.deepEqual([...files.get('numina_math')!].sort(), ['train-00000-of-00003.parquet', 'train-00001-of-00003.parquet', 'train-00002-of-00003.parquet']);
    assert.deepEqual([...files.get('taco_code')!].sort(), ['data-00000-of-00003.arrow', 'data-00001-of-00003.arrow', 'data-00002-of-00003.arrow']);
    const rejects = await readParquetRows(cli.rejects.path);
    const within = rejects.filter((r) => r.reason === 'duplicate_within_source');
    assert.ok(within.length > 0, 'the fixtures plant duplicates within a source');
    for (const r of within) assert.match(String(r.detail), /^same problem as kept [a-z_]+-[0-9a-f]{16} \([^/ ]+ row \d+\)$/u, 'the detail names the kept row by the same identity');
    assert.ok(rejects.every((r) => !String(r.file).includes('/')), 'no reject names a file by a path');
  });

  it('a resumed ingest re-reads a finished file whose identity changed with the file list', async () => {
    const dir = await tempDir('shards');
    const numina = sourceNamed(fx, 'numina_math');
    const shard = (i: number): string => `train-0000${i}-of-00003.parquet`;
    for (const sub of ['a', 'b']) await mkdir(join(dir, sub));
    await copyFile(join(fx.dir, 'numina_math/data', shard(0)), join(dir, 'a', shard(0)));
    await copyFile(join(fx.dir, 'numina_math/data', shard(1)), join(dir, 'b', shard(1)));
    const both = { ...numina, files: [`a/${shard(0)}`, `b/${shard(1)}`] };
    const fresh = await ingestSource({ source: both, baseDir: dir, workDir: await tempDir('w') });
    // An earlier attempt over the first file alone named it by its base name; over both files it is "a/...".
    let snapshot: unknown;
    const work = await tempDir('w');
    await ingestSource({ source: { ...numina, files: [`a/${shard(0)}`] }, baseDir: dir, workDir: work, onProgress: (p) => (snapshot = JSON.parse(JSON.stringify(p))) });
    assert.equal((snapshot as IngestProgress).done[0].sourceFile, shard(0));
    const resumed = await ingestSource({ source: both, baseDir: dir, workDir: work, resume: snapshot });
    assert.equal(resumed.candidates.sha256, fresh.candidates.sha256);
    assert.equal(resumed.rejects.sha256, fresh.rejects.sha256);
    const names = new Set([...(await readArrowFile(resumed.candidates.path)).getChild('source_file')!].map(String));
    assert.deepEqual([...names].sort(), [`a/${shard(0)}`, `b/${shard(1)}`]);
  });
});
