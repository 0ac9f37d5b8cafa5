// Starts a worker thread for one balance task. The process runs TypeScript through tsx; a worker does not get
// tsx's loader for its entry module from inherited execArgv on Node 20, so a tiny eval'd bootstrap registers tsx
// in the worker first and then imports the .ts entry.
import { Worker } from 'node:worker_threads';
import { BalanceAbortError, reviveError } from './errors.ts';
import type { WorkerTask } from './worker-entry.ts';

const ENTRY = new URL('./worker-entry.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');

/**
 * Runs `task` in a fresh worker thread. Aborting `signal` terminates the thread at once (CPU-bound parsing never
 * yields, so asking it to stop would not do) and rejects with BalanceAbortError (name 'AbortError').
 */
export function runInWorker<T>(task: WorkerTask, onProgress?: (progress: unknown) => void, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(new BalanceAbortError(task.kind, signal.reason));
  const bootstrap = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY)}); })`;
  return new Promise<T>((resolve, reject) => {
    const worker = new Worker(bootstrap, { eval: true, workerData: task });
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void =>
      settle(() => {
        void worker.terminate();
        reject(new BalanceAbortError(task.kind, signal?.reason));
      });
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: { type: string; progress?: unknown; result?: unknown; error?: Record<string, unknown> }) => {
      if (settled) return;
      if (msg.type === 'progress') {
        try {
          onProgress?.(msg.progress);
        } catch {
          // A failing progress callback (e.g. a heartbeat after cancellation) must not kill the ingest.
        }
      } else if (msg.type === 'done') {
        settle(() => resolve(msg.result as T));
        void worker.terminate();
      } else if (msg.type === 'error') {
        settle(() => reject(reviveError(msg.error ?? {})));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`balance worker for "${task.kind}" exited with code ${code} before finishing`))));
  });
}
