// Errors the data library throws on purpose. Their `name`s are part of the contract: schemas/errors.ts lists
// BadInputError and ShortfallError as non-retryable (retrying cannot fix a corrupt file or a small source).
import type { SerialisedError } from '../core/worker-pool.ts';

/** An input file is missing, truncated, corrupt or not in the declared format. The message names the file. */
export class BadInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadInputError';
  }
}

export interface Short {
  source: string;
  eligible: number;
  asked: number;
}

/** Sources have fewer eligible rows than the recipe asks for and `shortfall` is "error": every one is listed. */
export class ShortfallError extends Error {
  readonly shorts: Short[];
  constructor(shorts: Short[]) {
    const each = shorts.map((s) => `source "${s.source}" has ${s.eligible} eligible rows after filters and dedupe but ${s.asked} were asked for`);
    super(`${each.join('; ')} (lower its take / per_source, or set balance.shortfall: take_all)`);
    this.name = 'ShortfallError';
    this.shorts = shorts;
  }
}

/** Rebuilds an error that crossed a worker-thread boundary (core/worker-pool.ts), keeping its class. */
export function reviveError(e: SerialisedError): Error {
  if (e.name === 'BadInputError') return new BadInputError(e.message ?? '');
  if (e.name === 'ShortfallError' && Array.isArray(e.shorts)) return new ShortfallError(e.shorts as Short[]);
  const err = new Error(e.message ?? String(e));
  if (e.name) err.name = e.name;
  return err;
}
