// The worker-thread side of SFT tokenisation: rendering and tokenising every conversation is CPU-bound, so it
// runs here and leaves the activity's event loop free for heartbeats. Writes the token table to `tmpPath`.
import { writeFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { tokenizeSftFiles } from '../training/index.ts';
import type { MultiTurn } from '../training/index.ts';

export interface TokenizeTask {
  files: string[];
  tokenizerDir: string;
  maxLength: number;
  multiTurn: MultiTurn;
  tmpPath: string;
}

const task = workerData as TokenizeTask;
try {
  const { ipc, ...result } = await tokenizeSftFiles({ ...task, onProgress: (p) => parentPort!.postMessage({ type: 'progress', progress: p }) });
  await writeFile(task.tmpPath, ipc);
  parentPort!.postMessage({ type: 'done', result });
} catch (err) {
  const e = err as Error;
  parentPort!.postMessage({ type: 'error', error: { name: e.name, message: e.message, stack: e.stack } });
}
