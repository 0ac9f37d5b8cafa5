// Runs the code_interpreter calls of many trajectories with bounded concurrency. A sandbox infrastructure failure
// (status sandbox_error: the sandbox itself broke, not the program) is retried; if it persists the call throws
// ToolInfrastructureError, so the model never sees the failure as if it were the program's output and the rollout
// is retried as a whole (its sampling is seeded, so it reproduces). Time-outs and program errors are the program's
// own outcome and go back to the model.
import { CodeInterpreter } from '../sandbox/index.ts';
import type { Sandbox, ToolStatus, TruncateSide } from '../sandbox/index.ts';

export class ToolInfrastructureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolInfrastructureError';
  }
}

export interface ToolRunnerOptions {
  sandbox: Sandbox;
  /** Calls in flight at once across every trajectory using this runner. */
  concurrency: number;
  timeoutMs: number;
  memoryMb: number;
  /** Characters of output shown to the model and which side is kept. */
  outputChars: number;
  truncateSide?: TruncateSide;
  /** Attempts per call while the sandbox reports sandbox_error (default 3), with back-off from backoffMs. */
  attempts?: number;
  backoffMs?: number;
}

export interface ToolRun {
  text: string;
  status: Exclude<ToolStatus, 'sandbox_error'>;
  attempts: number;
  timeMs: number;
}

export class ToolRunner {
  private readonly tool: CodeInterpreter;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly opts: ToolRunnerOptions) {
    if (!(Number.isInteger(opts.concurrency) && opts.concurrency >= 1)) throw new Error(`ToolRunner: concurrency must be a positive integer, got ${opts.concurrency}`);
    this.tool = new CodeInterpreter({ sandbox: opts.sandbox, timeoutMs: opts.timeoutMs, memoryMb: opts.memoryMb, maxOutputChars: opts.outputChars, truncateSide: opts.truncateSide ?? 'middle' });
  }

  private async acquire(): Promise<void> {
    if (this.active < this.opts.concurrency) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  private releaseSlot(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  /** Runs one call (arguments as the model sent them). */
  async run(args: unknown): Promise<ToolRun> {
    const attempts = this.opts.attempts ?? 3;
    const started = performance.now();
    let lastError = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      await this.acquire();
      let exec;
      try {
        exec = await this.tool.execute(args);
      } finally {
        this.releaseSlot();
      }
      if (exec.status !== 'sandbox_error') {
        return { text: exec.text, status: exec.status, attempts: attempt, timeMs: performance.now() - started };
      }
      lastError = (exec.run?.stderr.trim() || exec.run?.reason || 'unknown error').split('\n')[0].slice(0, 300);
      if (attempt < attempts) await new Promise((r) => setTimeout(r, (this.opts.backoffMs ?? 200) * 2 ** (attempt - 1)));
    }
    throw new ToolInfrastructureError(`the sandbox failed on a tool call ${attempts} times: ${lastError}`);
  }
}
