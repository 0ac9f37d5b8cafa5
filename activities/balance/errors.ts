// Errors the balance stage throws on purpose. Their `name`s are part of the contract: the workflow layer maps
// BadInputError and ShortfallError to non-retryable failures (retrying cannot fix a corrupt file or a small source).

/** An input file is missing, truncated, corrupt or not in the declared format. The message names the file. */
export class BadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

/** A source has fewer eligible rows than the recipe asks for and `shortfall` is "error". */
export class ShortfallError extends Error {
  constructor(
    readonly source: string,
    readonly eligible: number,
    readonly asked: number,
  ) {
    super(
      `source "${source}" has ${eligible} eligible rows after filters and dedupe but ${asked} were asked for ` +
        `(lower its take / per_source, or set balance.shortfall: take_all)`,
    );
    this.name = 'ShortfallError';
  }
}

/**
 * The step was cancelled through its AbortSignal: its worker thread was terminated (partial temp files may remain
 * in workDir; nothing was committed). `name` is 'AbortError', as for fetch and timers; `cause` is the signal's reason.
 */
export class BalanceAbortError extends Error {
  constructor(what: string, reason: unknown) {
    super(`balance step "${what}" was cancelled`, { cause: reason });
    this.name = 'AbortError';
  }
}

/** Rebuilds a thrown error that crossed a worker-thread boundary as a plain object, keeping its class. */
export function reviveError(e: { name?: string; message?: string; stack?: string; source?: string; eligible?: number; asked?: number }): Error {
  let err: Error;
  if (e.name === 'BadInputError') err = new BadInputError(e.message ?? '');
  else if (e.name === 'ShortfallError') err = new ShortfallError(e.source ?? '?', e.eligible ?? 0, e.asked ?? 0);
  else {
    err = new Error(e.message ?? String(e));
    if (e.name) err.name = e.name;
  }
  if (e.stack) err.stack = e.stack;
  return err;
}
