// Intermediate Arrow files: the byte-level part concatenation must give exactly the bytes apache-arrow's writer
// gives for the same batches (the digests of every later file depend on it), and the direct column builders
// must give the same batches as vectorFromArray.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecordBatch, Struct, makeData, vectorFromArray } from 'apache-arrow';
import { CANDIDATE_SCHEMA, REJECT_SCHEMA } from '../../schemas/balance.ts';
import { ColumnBuffer, IpcStreamFile } from '../../datasets/io/arrow-write.ts';
import { concatIpc } from '../../datasets/io/ipc-parts.ts';
import { IpcColumns } from '../../datasets/io/ipc-columns.ts';
import { readArrowFile, tempDir } from './helpers.ts';

function rejectRows(n: number, seed: number): unknown[][] {
  return Array.from({ length: n }, (_, i) => [
    `src${seed}`,
    `file-${i % 3}.jsonl`,
    i,
    i % 2 ? 'empty_answer' : 'malformed_row',
    `detail ü ${'x'.repeat(i % 7)} ${seed}`,
    i % 3 === 0 ? null : `uid-${i}`,
  ]);
}

async function writePart(dir: string, batches: unknown[][][]): Promise<Awaited<ReturnType<IpcStreamFile['commit']>>> {
  const out = await IpcStreamFile.create(REJECT_SCHEMA, dir, 'part');
  for (const rows of batches) {
    const buf = new ColumnBuffer(REJECT_SCHEMA);
    for (const r of rows) buf.push(...r);
    out.write(buf.flush());
  }
  return out.commit();
}

describe('intermediate Arrow files', () => {
  it('ColumnBuffer builds the same IPC bytes as vectorFromArray, nulls and multi-byte text included', async () => {
    const dir = await tempDir('parts');
    for (const n of [1, 7, 8, 9, 513, 1500]) {
      const rows = rejectRows(n, n);
      const buf = new ColumnBuffer(REJECT_SCHEMA);
      for (const r of rows) buf.push(...r);
      const ours = await IpcStreamFile.create(REJECT_SCHEMA, dir, `ours-${n}`);
      ours.write(buf.flush());
      const theirs = await IpcStreamFile.create(REJECT_SCHEMA, dir, `theirs-${n}`);
      const children = REJECT_SCHEMA.fields.map((f, c) => {
        const col = rows.map((r) => r[c]);
        return vectorFromArray(String(f.type) === 'Int64' ? col.map((v) => BigInt(v as number)) : col, f.type).data[0];
      });
      theirs.write(new RecordBatch(REJECT_SCHEMA, makeData({ type: new Struct(REJECT_SCHEMA.fields), length: n, nullCount: 0, children })));
      assert.equal((await ours.commit()).sha256, (await theirs.commit()).sha256, `${n} rows`);
    }
  });

  it('concatenates parts byte-identically to re-encoding their batches, skipping empty ones', async () => {
    const dir = await tempDir('parts');
    const parts = [
      await writePart(dir, [rejectRows(5, 1), rejectRows(700, 2)]),
      await writePart(dir, []), // a file with no rows: only the schema and one empty batch
      await writePart(dir, [rejectRows(1, 3)]),
    ];
    const joined = await concatIpc(parts, REJECT_SCHEMA, dir, 'joined');
    const reference = await IpcStreamFile.create(REJECT_SCHEMA, dir, 'reference');
    for (const part of parts) for (const b of (await readArrowFile(part.path)).batches) if (b.numRows > 0) reference.write(b);
    const ref = await reference.commit();
    assert.equal(joined.sha256, ref.sha256);
    assert.equal(joined.rows, 706);
    const t = await readArrowFile(joined.path);
    assert.equal(t.numRows, 706);
    assert.equal(t.getChild('detail')!.get(705), 'detail ü  3');
  });

  it('writes a readable empty file (schema only) when no part has rows, and rejects a part of another schema', async () => {
    const dir = await tempDir('parts');
    const empty = await concatIpc([await writePart(dir, []), await writePart(dir, [])], REJECT_SCHEMA, dir, 'empty');
    assert.equal(empty.rows, 0);
    const t = await readArrowFile(empty.path);
    assert.equal(t.numRows, 0);
    assert.deepEqual(t.schema.fields.map((f) => f.name), REJECT_SCHEMA.fields.map((f) => f.name));
    const part = await writePart(dir, [rejectRows(3, 1)]);
    await assert.rejects(concatIpc([part], CANDIDATE_SCHEMA, dir, 'wrong'), { name: 'BadInputError', message: /not the expected/u });
  });

  it('reads single columns and single cells of an intermediate file exactly as apache-arrow reads the whole file', async () => {
    const dir = await tempDir('parts');
    const part = await writePart(dir, [rejectRows(9, 1), [], rejectRows(600, 2)]);
    const whole = await readArrowFile(part.path);
    const file = new IpcColumns(part.path, REJECT_SCHEMA);
    try {
      const nonEmpty = file.batches.map((b, i) => [b.length, i]).filter(([n]) => n > 0).map(([, i]) => i);
      assert.equal(file.batches.reduce((n, b) => n + b.length, 0), 609);
      let offset = 0;
      for (const b of nonEmpty) {
        for (const name of ['detail', 'uid', 'row']) {
          const col = [...file.column(b, name)].map((v) => (typeof v === 'bigint' ? Number(v) : v));
          const want = [...whole.getChild(name)!].slice(offset, offset + col.length).map((v) => (typeof v === 'bigint' ? Number(v) : v));
          assert.deepEqual(col, want, `${name} of batch ${b}`);
          for (const i of [0, 3, col.length - 1]) assert.deepEqual(file.value(b, name, i), want[i], `${name}[${i}] of batch ${b}`);
        }
        offset += file.batches[b].length;
      }
    } finally {
      file.close();
    }
    await assert.rejects(async () => new IpcColumns(part.path, CANDIDATE_SCHEMA), { name: 'BadInputError', message: /not the expected/u });
  });
});
