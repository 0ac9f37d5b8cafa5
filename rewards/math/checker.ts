// MathChecker: equivalence checks with a HARD time-out. compute-engine is synchronous and has no working
// cancellation, so each check runs in a worker thread: the check itself stops cooperatively at its deadline
// (between CAS steps), and if one CAS call overruns, the parent terminates the worker at the deadline and
// answers { equal: false, timedOut: true }. The next check starts a fresh worker.
import { Worker } from 'node:worker_threads';
import type { CheckRequest, CheckResponse } from './checkerProtocol.ts';
import { extractAnswer } from './extract.ts';
import { DEFAULT_TIMEOUT_MS } from './verifySync.ts';
import type { MathVerdict, VerifyOptions } from './verifySync.ts';

// The worker is a .ts module: register tsx inside the worker before importing it (Node 20 does not apply the
// parent's --import hooks to a worker's entry module).
function spawnWorker(): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./checkerWorker.ts', import.meta.url).href;
  const bootstrap = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { eval: true });
}

interface Job {
  gold: string;
  pred: string;
  options: VerifyOptions;
  resolve: (v: MathVerdict) => void;
}

function failedVerdict(reason: string, timedOut: boolean): MathVerdict {
  return { equal: false, goldAnswer: null, predAnswer: null, goldParsed: null, predParsed: null, timedOut, reason, predPriority: null };
}

export interface MathCheckerOptions {
  /** Time-out of a check that does not name its own (default 5000 ms). */
  defaultTimeoutMs?: number;
}

export class MathChecker {
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private readonly queue: Job[] = [];
  private running = false;
  private nextId = 1;
  private closed = false;
  private readonly defaultTimeoutMs: number;
  /** Checks answered by terminating the worker (for the audit and the benchmark). */
  hardTimeouts = 0;

  constructor(options: MathCheckerOptions = {}) {
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Checks run one at a time, in call order; the promise never rejects. */
  verify(gold: string, pred: string, options: VerifyOptions = {}): Promise<MathVerdict> {
    if (this.closed) return Promise.resolve(failedVerdict('checker closed', false));
    return new Promise((resolve) => {
      this.queue.push({ gold, pred, options, resolve });
      void this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    if (w) await w.terminate();
  }

  private start(): Promise<void> {
    if (this.worker && this.ready) return this.ready;
    const worker = spawnWorker();
    worker.unref(); // an idle checker must not keep the process alive
    this.worker = worker;
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }): void => {
        if (!m.ready) return;
        worker.off('message', onMessage);
        worker.off('error', reject);
        resolve();
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    });
    return this.ready;
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.queue.shift(); job; job = this.queue.shift()) {
        job.resolve(await this.runOne(job));
      }
    } finally {
      this.running = false;
    }
  }

  private async runOne(job: Job): Promise<MathVerdict> {
    try {
      await this.start();
    } catch (err) {
      this.worker = undefined;
      this.ready = undefined;
      return failedVerdict(`checker worker failed to start: ${err instanceof Error ? err.message : String(err)}`, false);
    }
    const worker = this.worker!;
    const timeoutMs = job.options.timeoutMs ?? this.defaultTimeoutMs;
    const id = this.nextId++;
    // The worker's own deadline fires first (80%), so most time-outs cost no worker restart.
    const request: CheckRequest = { id, gold: job.gold, pred: job.pred, options: { ...job.options, timeoutMs: Math.max(1, Math.floor(timeoutMs * 0.8)) } };
    return new Promise<MathVerdict>((resolve) => {
      const finish = (v: MathVerdict): void => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        resolve(v);
      };
      const onMessage = (res: CheckResponse): void => {
        if (res.id !== id) return;
        finish('verdict' in res ? res.verdict : failedVerdict(`checker error: ${res.error}`, false));
      };
      const onError = (err: Error): void => {
        this.discardWorker(worker);
        finish(failedVerdict(`checker worker crashed: ${err.message}`, false));
      };
      const timer = setTimeout(() => {
        this.hardTimeouts++;
        this.discardWorker(worker);
        // Extraction is cheap and pure: keep the prediction's answer in the audit even when the CAS overran.
        const found = extractAnswer(job.pred, { targets: job.options.targets });
        finish({
          ...failedVerdict(`math check exceeded its ${timeoutMs} ms time-out (worker terminated)`, true),
          predAnswer: found?.text ?? null,
          predPriority: found?.priority ?? null,
        });
      }, timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage(request);
    });
  }

  private discardWorker(worker: Worker): void {
    if (this.worker === worker) {
      this.worker = undefined;
      this.ready = undefined;
    }
    void worker.terminate();
  }
}

let defaultChecker: MathChecker | undefined;

/** The process-wide checker used by verifyMath / mathOutcome when none is passed. */
export function sharedMathChecker(): MathChecker {
  defaultChecker ??= new MathChecker();
  return defaultChecker;
}

/** Equivalence of a gold answer and a prediction (both may be full responses), with a hard time-out. */
export function verifyMath(gold: string, pred: string, options: VerifyOptions & { checker?: MathChecker } = {}): Promise<MathVerdict> {
  const { checker, ...rest } = options;
  return (checker ?? sharedMathChecker()).verify(gold, pred, rest);
}
