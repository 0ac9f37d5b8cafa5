// Runs SFT tokenisation in a worker thread (sft-thread-entry.ts). The thread registers tsx before importing
// the .ts entry, as the balance stage's threads do (Node 20 does not pass tsx's loader to a worker's entry).
import { Worker } from 'node:worker_threads';
import type { TokenizeResult } from '../training/index.ts';
import type { TokenizeTask } from './sft-thread-entry.ts';

const ENTRY = new URL('./sft-thread-entry.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');
const BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY)}); })`;

type Reply = { type: 'progress'; progress: unknown } | { type: 'done'; result: Omit<TokenizeResult, 'ipc'> } | { type: 'error'; error: { name: string; message: string; stack?: string } };

/** Tokenises in a thread; aborting `signal` terminates the thread. Errors keep their name (non-retryable ones stay so). */
export function tokenizeInThread(task: TokenizeTask, onProgress: (p: unknown) => void, signal: AbortSignal): Promise<Omit<TokenizeResult, 'ipc'>> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: task });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = () => finish(() => reject(Object.assign(new Error('SFT tokenisation was cancelled'), { name: 'AbortError' })));
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: Reply) => {
      if (msg.type === 'progress') onProgress(msg.progress);
      else if (msg.type === 'done') finish(() => resolve(msg.result));
      else finish(() => reject(Object.assign(new Error(msg.error.message), { name: msg.error.name, stack: msg.error.stack })));
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(new Error(`SFT tokenisation thread exited with code ${code}`))));
  });
}
