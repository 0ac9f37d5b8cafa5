// Client for a SandboxFusion service (POST {base}/run_code), the remote sandbox many users already run. It speaks
// the documented wire format, caps requests in flight, and retries 5xx / 429 / connection failures with
// exponential back-off; when it gives up, the run comes back as sandbox_error with a message saying why (a
// rollout never crashes on a flaky sandbox).
import { runFusionCases } from './fusion-cases.ts';
import { toBase64 } from '../core/base64.ts';
import { fromRunCodeResponse } from './fusion-wire.ts';
import type { RunCodeRequest, RunCodeResponse } from './fusion-wire.ts';
import type { CaseJob, CaseJobOptions, CaseRun, CaseRunner, RunRequest, RunResult, Sandbox } from './types.ts';

export type { RunCodeRequest, RunCodeResponse } from './fusion-wire.ts';

export interface SandboxFusionOptions {
  /** e.g. http://127.0.0.1:8080 (the client appends /run_code). */
  baseUrl: string;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Retries after the first attempt. Default 3. */
  retries?: number;
  /** First back-off delay; doubles per retry up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Defaults for each run (the tool-time limits of docs/sandbox.md: 30 s, 2048 MiB). */
  timeoutMs?: number;
  memoryMb?: number;
  compileTimeoutMs?: number;
  /** Extra time the HTTP request may take beyond run + compile time (verl: 10 s). */
  requestSlackMs?: number;
}

export class SandboxFusionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SandboxFusionError';
  }
}

class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly limit: number) {}
  async use<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.active += 1;
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      if (next) next(); // the slot passes straight to the next waiter
      else this.active -= 1;
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The REPL-like echo needs the code parsed inside the sandbox; remotely that means a small Python prologue that
// exec's the user's code (its frames are hidden from tracebacks by starting at the user's own frame).
function echoProgram(code: string): string {
  return [
    'import ast as _agentrl_ast, sys as _agentrl_sys, traceback as _agentrl_tb, linecache as _agentrl_lc',
    `_agentrl_src = ${JSON.stringify(code)}`,
    "_agentrl_lc.cache['<string>'] = (len(_agentrl_src), None, _agentrl_src.splitlines(True), '<string>')",
    'try:',
    "    _agentrl_tree = compile(_agentrl_src, '<string>', 'exec', _agentrl_ast.PyCF_ONLY_AST)",
    '    _agentrl_last = None',
    '    if _agentrl_tree.body and isinstance(_agentrl_tree.body[-1], _agentrl_ast.Expr):',
    '        _agentrl_last = _agentrl_ast.Expression(_agentrl_tree.body.pop().value)',
    "    exec(compile(_agentrl_tree, '<string>', 'exec'), globals())",
    '    if _agentrl_last is not None:',
    "        _agentrl_value = eval(compile(_agentrl_last, '<string>', 'eval'), globals())",
    '        if _agentrl_value is not None:',
    '            print(repr(_agentrl_value))',
    'except SystemExit:',
    '    raise',
    'except BaseException as _agentrl_exc:',
    '    _agentrl_sys.stderr.write("".join(_agentrl_tb.format_exception(type(_agentrl_exc), _agentrl_exc, _agentrl_exc.__traceback__.tb_next)))',
    '    _agentrl_sys.exit(1)',
  ].join('\n');
}

export interface SandboxFusionClient extends Sandbox, CaseRunner {
  readonly backend: 'sandboxfusion';
  /** Send one raw request body; retries as configured. Throws SandboxFusionError when it gives up. */
  runCode(body: RunCodeRequest): Promise<RunCodeResponse>;
}

export function createSandboxFusion(options: SandboxFusionOptions): SandboxFusionClient {
  const url = new URL('run_code', options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`).toString();
  const retries = options.retries ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 10_000;
  const slack = options.requestSlackMs ?? 10_000;
  const semaphore = new Semaphore(Math.max(1, options.concurrency ?? 8));
  let closed = false;

  async function attempt(body: RunCodeRequest): Promise<{ ok: true; value: RunCodeResponse } | { ok: false; retryable: boolean; error: string }> {
    const timeoutMs = (body.run_timeout + body.compile_timeout) * 1000 + slack;
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      return { ok: false, retryable: true, error: `${(err as Error).name}: ${(err as Error).message}${cause ? ` (${cause})` : ''}` };
    }
    const text = await response.text().catch(() => '');
    if (response.status === 429 || response.status >= 500) {
      return { ok: false, retryable: true, error: `HTTP ${response.status} ${text.slice(0, 200)}`.trim() };
    }
    if (!response.ok) return { ok: false, retryable: false, error: `HTTP ${response.status} ${text.slice(0, 200)}`.trim() };
    try {
      return { ok: true, value: JSON.parse(text) as RunCodeResponse };
    } catch {
      return { ok: false, retryable: false, error: `response is not JSON: ${text.slice(0, 200)}` };
    }
  }

  async function runCode(body: RunCodeRequest): Promise<RunCodeResponse> {
    if (closed) throw new SandboxFusionError('the SandboxFusion client is closed');
    return semaphore.use(async () => {
      let lastError = '';
      for (let i = 0; i <= retries; i++) {
        if (i > 0) await sleep(Math.min(maxBackoffMs, backoffMs * 2 ** (i - 1)));
        const outcome = await attempt(body);
        if (outcome.ok) return outcome.value;
        lastError = outcome.error;
        if (!outcome.retryable) throw new SandboxFusionError(`SandboxFusion ${url} refused the request: ${lastError}`);
      }
      throw new SandboxFusionError(`SandboxFusion ${url} gave up after ${retries + 1} attempts; last error: ${lastError}`);
    });
  }

  async function execute(program: { code: string; stdin: string; timeoutMs: number; memoryMb: number; files: Record<string, string> }): Promise<RunResult> {
    const body: RunCodeRequest = {
      code: program.code,
      language: 'python',
      run_timeout: program.timeoutMs / 1000,
      compile_timeout: (options.compileTimeoutMs ?? 10_000) / 1000,
      memory_limit_MB: program.memoryMb,
      stdin: program.stdin,
      files: program.files,
      fetch_files: [],
    };
    try {
      return fromRunCodeResponse(await runCode(body));
    } catch (err) {
      if (!(err instanceof SandboxFusionError)) throw err;
      return { status: 'sandbox_error', exitCode: null, stdout: '', stderr: err.message, executionTimeMs: 0, reason: err.message, signal: null };
    }
  }

  return {
    backend: 'sandboxfusion',
    runCode,
    async run(request: RunRequest): Promise<RunResult> {
      const files: Record<string, string> = {};
      for (const [path, content] of Object.entries(request.files ?? {})) files[path] = toBase64(content);
      return execute({
        code: request.echoLastExpression ? echoProgram(request.code) : request.code,
        stdin: request.stdin ?? '',
        timeoutMs: request.timeoutMs ?? options.timeoutMs ?? 30_000,
        memoryMb: request.memoryMb ?? options.memoryMb ?? 2048,
        files,
      });
    },
    runCases(job: CaseJob, opts: CaseJobOptions): Promise<CaseRun[]> {
      return runFusionCases((program) => execute({ ...program, files: {} }), job, opts);
    },
    async close(): Promise<void> {
      closed = true;
    },
  };
}
