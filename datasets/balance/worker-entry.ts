// The worker-thread side of the balance stage: one task at a time (core/worker-pool.ts). Parsing, hashing and
// Arrow/parquet encoding are CPU-bound; running them here keeps the activity's event loop free for heartbeats.
import { serveTasks } from '../../core/worker-pool.ts';
import { finishIngest, ingestFiles, ingestPart } from './ingest.ts';
import { selectRows } from './select.ts';
import { writeRejects, writeRl } from './write.ts';

export type BalanceTask =
  | { kind: 'ingest'; args: Omit<Parameters<typeof ingestFiles>[0], 'onProgress'> }
  | { kind: 'ingestPart'; args: Parameters<typeof ingestPart>[0] }
  | { kind: 'ingestFinish'; args: Parameters<typeof finishIngest>[0] }
  | { kind: 'select'; args: Parameters<typeof selectRows>[0] }
  | { kind: 'writeRl'; args: Parameters<typeof writeRl>[0] }
  | { kind: 'writeRejects'; args: Parameters<typeof writeRejects>[0] };

serveTasks<BalanceTask>(async (task, progress) => {
  switch (task.kind) {
    case 'ingest':
      return ingestFiles({ ...task.args, onProgress: progress });
    case 'ingestPart':
      return ingestPart(task.args, progress);
    case 'ingestFinish':
      return finishIngest(task.args);
    case 'select':
      return selectRows(task.args);
    case 'writeRl':
      return writeRl(task.args);
    case 'writeRejects':
      return writeRejects(task.args);
  }
});
