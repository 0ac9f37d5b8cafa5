// The code_interpreter tool the policy calls during rollouts. It runs the model's code through any Sandbox backend
// and turns the result into the text shown to the model: stdout + stderr (tracebacks included), or a fixed
// time-out / failure message, truncated to a configurable length and side. It never throws on bad arguments or a
// broken sandbox: the model gets an explanatory text instead, so a rollout never crashes.
import { CODE_INTERPRETER_NAME, CODE_INTERPRETER_TOOL } from '../chat/types.ts';
import { codeFromArguments } from '../chat/toolCalls.ts';
import type { RunResult, RunStatus, Sandbox } from './types.ts';

export type TruncateSide = 'middle' | 'head' | 'tail';

export interface CodeInterpreterOptions {
  sandbox: Sandbox;
  /** Recipe tool-time limits: 30 s, 2048 MiB. */
  timeoutMs?: number;
  memoryMb?: number;
  /** Characters of output shown to the model (verl default 256); 0 or Infinity disables truncation. */
  maxOutputChars?: number;
  /** middle keeps the head and tail halves around the marker (verl's 128 + 128); head / tail keep one end. */
  truncateSide?: TruncateSide;
  /** REPL-like echo of a final expression (found by parsing inside the sandbox). Default true. */
  echoLastExpression?: boolean;
  timeoutText?: (timeoutMs: number) => string;
  failureText?: (detail: string) => string;
}

export type ToolStatus = RunStatus | 'invalid_arguments';

/** One execution of the tool: the text the model sees and how the run went. */
export interface ToolExecution {
  /** What the model sees. */
  text: string;
  status: ToolStatus;
  truncated: boolean;
  /** The sandbox result, absent when the arguments were invalid. */
  run?: RunResult;
}

/** Cut text to at most maxChars code points (plus the marker), keeping the chosen side(s). */
export function truncateOutput(text: string, maxChars: number, side: TruncateSide): { text: string; truncated: boolean } {
  if (!Number.isFinite(maxChars) || maxChars <= 0) return { text, truncated: false };
  const chars = Array.from(text); // code points: never split a surrogate pair
  if (chars.length <= maxChars) return { text, truncated: false };
  const dropped = chars.length - maxChars;
  const marker = `\n[... ${dropped} characters truncated ...]\n`;
  if (side === 'head') return { text: chars.slice(0, maxChars).join('') + marker, truncated: true };
  if (side === 'tail') return { text: marker + chars.slice(chars.length - maxChars).join(''), truncated: true };
  const head = Math.ceil(maxChars / 2);
  const tail = maxChars - head;
  return { text: chars.slice(0, head).join('') + marker + chars.slice(chars.length - tail).join(''), truncated: true };
}

export class CodeInterpreter {
  readonly name = CODE_INTERPRETER_NAME;
  readonly schema = CODE_INTERPRETER_TOOL;
  private readonly options: Required<Omit<CodeInterpreterOptions, 'sandbox'>> & { sandbox: Sandbox };

  constructor(options: CodeInterpreterOptions) {
    this.options = {
      timeoutMs: 30_000,
      memoryMb: 2048,
      maxOutputChars: 256,
      truncateSide: 'middle',
      echoLastExpression: true,
      timeoutText: (ms) => `Execution timed out after ${ms / 1000} seconds.`,
      failureText: (detail) => `Execution failed: the sandbox is unavailable (${detail}).`,
      ...options,
    };
  }

  /** Run one tool call. Arguments as the model sent them (object or JSON string). */
  async execute(args: unknown): Promise<ToolExecution> {
    const code = codeFromArguments(args);
    if (typeof code !== 'string') return { text: code.error, status: 'invalid_arguments', truncated: false };
    const o = this.options;
    const run = await o.sandbox.run({ code, timeoutMs: o.timeoutMs, memoryMb: o.memoryMb, echoLastExpression: o.echoLastExpression });
    let text: string;
    if (run.status === 'timeout') text = o.timeoutText(o.timeoutMs);
    else if (run.status === 'sandbox_error') text = o.failureText((run.stderr.trim() || run.reason || 'unknown error').split('\n')[0].slice(0, 200));
    else {
      text = run.stdout + run.stderr;
      if (run.reason === 'output_limit') text += '\n[output limit exceeded: the program was stopped]';
    }
    const cut = truncateOutput(text, o.maxOutputChars, o.truncateSide);
    return { text: cut.text, status: run.status, truncated: cut.truncated, run };
  }
}
