// Cancellation: aborting a step's signal terminates its worker thread and rejects with an AbortError, and the
// cancelled step never commits its outputs.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { before, describe, it } from 'node:test';
import { ingestSource, selectBalanced } from '../../datasets/balance/index.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import { makeFixture, sourceNamed, tempDir } from './helpers.ts';

let fx: BalanceFixture;
before(async () => {
  fx = await makeFixture();
});

const isAbort = (reason: unknown) => (err: Error & { cause?: unknown }) => {
  assert.equal(err.name, 'AbortError');
  assert.match(err.message, /cancelled/u);
  assert.equal(err.cause, reason);
  return true;
};

describe('cancellation', () => {
  for (const lanes of [1, 2]) it(`terminates an ingest on abort (${lanes} lane(s)): rejects with AbortError and never writes the candidates file`, async () => {
    const numina = sourceNamed(fx, 'numina_math');
    const work = await tempDir('cancel');
    const controller = new AbortController();
    const reason = new Error('activity cancelled');
    let progressEvents = 0;
    const cancelled = ingestSource({
      source: numina,
      baseDir: fx.dir,
      workDir: work,
      lanes,
      signal: controller.signal,
      onProgress: () => {
        progressEvents++;
        // Abort on the first progress report: the worker is mid-ingest (numina has several files).
        if (progressEvents === 1) controller.abort(reason);
      },
    });
    await assert.rejects(cancelled, isAbort(reason));
    assert.equal(progressEvents, 1, 'no progress is relayed after the abort');
    // Give a thread that kept running ample time to finish: a full ingest of the same source, awaited.
    await ingestSource({ source: numina, baseDir: fx.dir, workDir: await tempDir('cancel-ref') });
    const top = await readdir(work);
    assert.deepEqual(
      top.filter((name) => name.startsWith('candidates-') || name.startsWith('ingest-rejects-')),
      [],
      'the cancelled ingest committed no outputs',
    );
  });

  it('rejects at once, starting nothing, when the signal is already aborted', async () => {
    const work = await tempDir('cancel-pre');
    const reason = new Error('already cancelled');
    await assert.rejects(
      ingestSource({ source: sourceNamed(fx, 'omni_math'), baseDir: fx.dir, workDir: work, signal: AbortSignal.abort(reason) }),
      isAbort(reason),
    );
    assert.deepEqual(await readdir(work), []);
  });

  it('cancels selectBalanced the same way', async () => {
    const work = await tempDir('cancel-select');
    const omni = await ingestSource({ source: sourceNamed(fx, 'omni_math'), baseDir: fx.dir, workDir: work });
    const controller = new AbortController();
    const selecting = selectBalanced({
      inputs: [{ source: 'omni_math', candidates: omni.candidates, take: 10 }],
      seed: 1,
      priority: ['omni_math'],
      shortfall: 'error',
      workDir: work,
      signal: controller.signal,
    });
    controller.abort('stop');
    await assert.rejects(selecting, isAbort('stop'));
    const top = await readdir(work);
    assert.equal(top.filter((name) => name.startsWith('selected-')).length, 0);
  });
});
