// core/worker-pool.ts, which every stage's CPU-bound library work runs through: results and progress come back,
// an error keeps its name, message and own fields, a cancelled task's thread is terminated at once, and only a
// thread whose task succeeded is reused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WorkerPool } from '../../core/worker-pool.ts';
import type { SerialisedError } from '../../core/worker-pool.ts';
import type { TestTask } from './worker-pool-entry.ts';

const ENTRY = new URL('./worker-pool-entry.ts', import.meta.url);

test('results and progress come back; an error keeps name, message and its own fields', async () => {
  const seen: unknown[] = [];
  const revived: SerialisedError[] = [];
  const pool = new WorkerPool<TestTask>(ENTRY, (e) => {
    revived.push(e);
    return Object.assign(new Error(e.message), { name: e.name });
  });
  assert.equal(await pool.run<number>({ kind: 'count', to: 3 }, (p) => seen.push(p)), 3);
  assert.deepEqual(seen, [1, 2, 3]);
  await assert.rejects(pool.run({ kind: 'fail', code: 'E42' }), { name: 'CodedError', message: 'failed with E42' });
  assert.equal(revived[0].code, 'E42');
  assert.deepEqual(revived[0].where, { file: 'a.jsonl', line: 7 });
});

test('aborting a task that never yields terminates its thread and rejects with AbortError', async () => {
  const pool = new WorkerPool<TestTask>(ENTRY);
  const stop = new AbortController();
  const running = pool.run({ kind: 'spin' }, undefined, stop.signal);
  setTimeout(() => stop.abort('enough'), 500);
  const t0 = Date.now();
  await assert.rejects(running, (err: Error) => err.name === 'AbortError' && err.cause === 'enough');
  assert.ok(Date.now() - t0 < 20_000);
  await assert.rejects(pool.run({ kind: 'thread' }, undefined, stop.signal), { name: 'AbortError' });
});

test('a thread is reused after a task that succeeded, never after one that failed', async () => {
  const pool = new WorkerPool<TestTask>(ENTRY);
  const first = await pool.run<number>({ kind: 'thread' });
  assert.equal(await pool.run<number>({ kind: 'thread' }), first, 'the idle thread took the next task');
  await assert.rejects(pool.run({ kind: 'fail', code: 'x' }));
  const after = await pool.run<number>({ kind: 'thread' });
  assert.notEqual(after, first, 'the thread of the failed task was not reused');
});
