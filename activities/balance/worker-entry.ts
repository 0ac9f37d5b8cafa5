// The worker-thread side of the balance stage: runs one task and posts progress, then the result or the error.
// Parsing, hashing and Arrow/parquet encoding are CPU-bound; running them here keeps the activity's event loop
// free for Temporal heartbeats and cancellation.
import { parentPort } from 'node:worker_threads';
import { finishIngest, ingestFiles, ingestPart } from './ingest.ts';
import { selectRows } from './select.ts';
import { writeRejects, writeRl } from './write.ts';

export type WorkerTask =
  | { kind: 'ingest'; args: Omit<Parameters<typeof ingestFiles>[0], 'onProgress'> }
  | { kind: 'ingestPart'; args: Parameters<typeof ingestPart>[0] }
  | { kind: 'ingestFinish'; args: Parameters<typeof finishIngest>[0] }
  | { kind: 'select'; args: Parameters<typeof selectRows>[0] }
  | { kind: 'writeRl'; args: Parameters<typeof writeRl>[0] }
  | { kind: 'writeRejects'; args: Parameters<typeof writeRejects>[0] };

async function run(task: WorkerTask): Promise<unknown> {
  switch (task.kind) {
    case 'ingest':
      return ingestFiles({ ...task.args, onProgress: (progress) => parentPort!.postMessage({ type: 'progress', progress }) });
    case 'ingestPart':
      return ingestPart(task.args, (rows) => parentPort!.postMessage({ type: 'progress', progress: rows }));
    case 'ingestFinish':
      return finishIngest(task.args);
    case 'select':
      return selectRows(task.args);
    case 'writeRl':
      return writeRl(task.args);
    case 'writeRejects':
      return writeRejects(task.args);
  }
}

// One task at a time: the pool in run-in-worker.ts posts the next task only after this one's reply.
parentPort!.on('message', (task: WorkerTask) => {
  run(task).then(
    (result) => parentPort!.postMessage({ type: 'done', result }),
    (err: unknown) => {
      const e = err as Error & Record<string, unknown>;
      parentPort!.postMessage({
        type: 'error',
        error: { name: e?.name, message: e?.message ?? String(err), stack: e?.stack, source: e?.source, eligible: e?.eligible, asked: e?.asked },
      });
    },
  );
});
