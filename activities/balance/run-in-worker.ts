// Runs balance tasks in worker threads. The process runs TypeScript through tsx; a worker does not get tsx's
// loader for its entry module from inherited execArgv on Node 20, so a tiny eval'd bootstrap registers tsx in the
// worker first and then imports the .ts entry. Booting a worker that way costs ~0.3-0.5 s of CPU (tsx, arrow,
// parquet-wasm), about as much as a small step's whole work, so a worker that finished a task cleanly is kept
// (unref'd, so it never holds the process open) and reused for the next task for up to IDLE_MS. A worker whose
// task failed or was cancelled is terminated, never reused.
import { Worker } from 'node:worker_threads';
import { BalanceAbortError, reviveError } from './errors.ts';
import type { WorkerTask } from './worker-entry.ts';

const ENTRY = new URL('./worker-entry.ts', import.meta.url).href;
const TSX_API = import.meta.resolve('tsx/esm/api');
const BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((m) => { m.register(); return import(${JSON.stringify(ENTRY)}); })`;

/** Idle workers kept for reuse; more than this many idle ones are terminated. */
const MAX_IDLE = 4;
/**
 * An idle worker is terminated after this long: the stage's steps follow each other closely, and a worker that
 * read a large source holds its heap and wasm memory, which a long-running activity worker should not keep.
 */
const IDLE_MS = 10_000;
const idle: Worker[] = [];
const idleTimers = new Map<Worker, NodeJS.Timeout>();

type Reply = { type: string; progress?: unknown; result?: unknown; error?: Record<string, unknown> };

function takeWorker(): Worker {
  const worker = idle.pop();
  if (worker) {
    clearTimeout(idleTimers.get(worker));
    idleTimers.delete(worker);
    worker.ref();
    return worker;
  }
  const fresh = new Worker(BOOTSTRAP, { eval: true });
  // An idle worker that dies (it should not) just leaves the pool.
  fresh.on('exit', () => {
    const i = idle.indexOf(fresh);
    if (i >= 0) idle.splice(i, 1);
  });
  return fresh;
}

function releaseWorker(worker: Worker): void {
  if (idle.length >= MAX_IDLE) {
    void worker.terminate();
    return;
  }
  worker.unref();
  idle.push(worker);
  const timer = setTimeout(() => {
    idleTimers.delete(worker);
    const i = idle.indexOf(worker);
    if (i >= 0) idle.splice(i, 1);
    void worker.terminate();
  }, IDLE_MS);
  timer.unref();
  idleTimers.set(worker, timer);
}

/**
 * Runs `task` in a worker thread. Aborting `signal` terminates the thread at once (CPU-bound parsing never
 * yields, so asking it to stop would not do) and rejects with BalanceAbortError (name 'AbortError').
 */
export function runInWorker<T>(task: WorkerTask, onProgress?: (progress: unknown) => void, signal?: AbortSignal): Promise<T> {
  if (signal?.aborted) return Promise.reject(new BalanceAbortError(task.kind, signal.reason));
  return new Promise<T>((resolve, reject) => {
    const worker = takeWorker();
    let settled = false;
    const detach = (): void => {
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    const fail = (err: Error): void => {
      if (settled) return;
      detach();
      void worker.terminate();
      reject(err);
    };
    const onAbort = (): void => fail(new BalanceAbortError(task.kind, signal?.reason));
    const onMessage = (msg: Reply): void => {
      if (settled) return;
      if (msg.type === 'progress') {
        try {
          onProgress?.(msg.progress);
        } catch {
          // A failing progress callback (e.g. a heartbeat after cancellation) must not kill the ingest.
        }
      } else if (msg.type === 'done') {
        detach();
        releaseWorker(worker);
        resolve(msg.result as T);
      } else if (msg.type === 'error') {
        fail(reviveError(msg.error ?? {}));
      }
    };
    const onError = (err: Error): void => fail(err);
    const onExit = (code: number): void => fail(new Error(`balance worker for "${task.kind}" exited with code ${code} before finishing`));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage(task);
  });
}
