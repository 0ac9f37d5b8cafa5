// Runs CPU-bound tasks in worker threads, so an activity's event loop stays free for heartbeats and cancellation.
// The process runs TypeScript through tsx; a worker does not get tsx's loader for its entry module from inherited
// execArgv on Node 20, so a tiny eval'd bootstrap registers tsx in the worker first and then imports the .ts
// entry. Booting a worker that way costs about as much CPU as a small task's whole work, so a worker that finished a task cleanly is kept (unref'd, so it never holds the process open) and reused
// for the next task of the same pool for up to IDLE_MS. A worker whose task failed or was cancelled is
// terminated, never reused. The entry module calls serveTasks(); errors cross the thread boundary as plain
// objects and the pool's `revive` rebuilds their classes.
import { parentPort, Worker } from 'node:worker_threads';

/** An error as it crosses the thread boundary: name, message, stack and its own primitive (or plain) fields. */
export type SerialisedError = { name?: string; message?: string; stack?: string } & Record<string, unknown>;

/**
 * A task was cancelled through its AbortSignal and its worker thread terminated (partial temp files may remain;
 * nothing was committed). `name` is 'AbortError', as for fetch and timers; `cause` is the signal's reason.
 */
export class WorkerAbortError extends Error {
  constructor(what: string, reason: unknown) {
    super(`step "${what}" was cancelled`, { cause: reason });
    this.name = 'AbortError';
  }
}

/** Idle workers kept for reuse per pool; more than this many idle ones are terminated. */
const MAX_IDLE = 4;
/**
 * An idle worker is terminated after this long: a stage's steps follow each other closely, and a worker that
 * read a large file holds its heap and wasm memory, which a long-running activity worker should not keep.
 */
const IDLE_MS = 10_000;

type Reply = { type: string; progress?: unknown; result?: unknown; error?: SerialisedError };

/** The default revive: a plain Error carrying the original name and message. */
function plainError(e: SerialisedError): Error {
  const err = new Error(e.message ?? String(e));
  if (e.name) err.name = e.name;
  return err;
}

export class WorkerPool<Task extends { kind: string }> {
  private readonly bootstrap: string;
  private readonly idle: Worker[] = [];
  private readonly idleTimers = new Map<Worker, NodeJS.Timeout>();

  /** `entry`: the module that calls serveTasks(); `revive` rebuilds an error thrown there. */
  constructor(
    entry: URL,
    private readonly revive: (e: SerialisedError) => Error = plainError,
  ) {
    const tsx = import.meta.resolve('tsx/esm/api');
    this.bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  }

  /**
   * Runs `task` in a worker thread. Aborting `signal` terminates the thread at once (CPU-bound parsing never
   * yields, so asking it to stop would not do) and rejects with WorkerAbortError (name 'AbortError').
   */
  run<T>(task: Task, onProgress?: (progress: unknown) => void, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new WorkerAbortError(task.kind, signal.reason));
    return new Promise<T>((resolve, reject) => {
      const worker = this.take();
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
      const onAbort = (): void => fail(new WorkerAbortError(task.kind, signal?.reason));
      const onMessage = (msg: Reply): void => {
        if (settled) return;
        if (msg.type === 'progress') {
          try {
            onProgress?.(msg.progress);
          } catch {
            // A failing progress callback (e.g. a heartbeat after cancellation) must not kill the task.
          }
        } else if (msg.type === 'done') {
          detach();
          this.release(worker);
          resolve(msg.result as T);
        } else if (msg.type === 'error') {
          const e = msg.error ?? {};
          const err = this.revive(e);
          if (e.stack) err.stack = e.stack;
          fail(err);
        }
      };
      const onError = (err: Error): void => fail(err);
      const onExit = (code: number): void => fail(new Error(`worker thread for "${task.kind}" exited with code ${code} before finishing`));
      signal?.addEventListener('abort', onAbort, { once: true });
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(task);
    });
  }

  private take(): Worker {
    const worker = this.idle.pop();
    if (worker) {
      clearTimeout(this.idleTimers.get(worker));
      this.idleTimers.delete(worker);
      worker.ref();
      return worker;
    }
    const fresh = new Worker(this.bootstrap, { eval: true });
    // An idle worker that dies (it should not) just leaves the pool.
    fresh.on('exit', () => {
      const i = this.idle.indexOf(fresh);
      if (i >= 0) this.idle.splice(i, 1);
    });
    return fresh;
  }

  private release(worker: Worker): void {
    if (this.idle.length >= MAX_IDLE) {
      void worker.terminate();
      return;
    }
    worker.unref();
    this.idle.push(worker);
    const timer = setTimeout(() => {
      this.idleTimers.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      void worker.terminate();
    }, IDLE_MS);
    timer.unref();
    this.idleTimers.set(worker, timer);
  }
}

/** Own fields of an error that survive structured cloning (strings, numbers, booleans, null, plain data). */
function serialiseError(err: unknown): SerialisedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const out: SerialisedError = { name: err.name, message: err.message, stack: err.stack };
  for (const [k, v] of Object.entries(err)) {
    try {
      out[k] = structuredClone(v);
    } catch {
      // A field that cannot cross the boundary (a function, a handle) is left behind.
    }
  }
  return out;
}

/**
 * The worker-thread side: runs each task it is sent with `run` (one at a time: the pool posts the next task only
 * after this one's reply), posting progress, then the result or the error.
 */
export function serveTasks<Task>(run: (task: Task, progress: (p: unknown) => void) => Promise<unknown>): void {
  const port = parentPort;
  if (!port) throw new Error('serveTasks() runs inside a worker thread only');
  const progress = (p: unknown): void => port.postMessage({ type: 'progress', progress: p });
  port.on('message', (task: Task) => {
    run(task, progress).then(
      (result) => port.postMessage({ type: 'done', result }),
      (err: unknown) => port.postMessage({ type: 'error', error: serialiseError(err) }),
    );
  });
}
