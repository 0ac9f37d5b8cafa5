// One program run of the sampler: feeds some sequences their pending tokens, writes the new keys and values
// into their cache rows' next slots, and returns the logits and log-sum-exps at each one's last token. Either
// the fused prefill (rows with nothing cached; they may sit anywhere in the cache) or the KV-cached decode
// program over the leading cache rows (the caller moved the sequences there).
import type { Qwen3Config } from './config.ts';
import type { FloatType } from './graph/graph.ts';
import type { Device, Feed, Session } from './runtime/device.ts';
import { decodeProgram, prefillProgram } from './programs.ts';
import type { HeadRows } from './programs.ts';
import { prefillAttention, queryBlocks } from './attention-choice.ts';
import { MIN_ROWS } from './kv-cache.ts';
import type { KvCache } from './kv-cache.ts';

/** What a run needs of a sequence. */
export interface FedSequence {
  /** Tokens already in the cache. */
  cached: number;
  /** Tokens to feed now. */
  pending: number[];
}

export interface StepInfo {
  /** Sequences fed (a run pads to MIN_ROWS rows; padding is not counted), and tokens fed per row (T). */
  rows: number;
  tokens: number;
  /** Which program ran: the fused prefill of fresh prompts, or the KV-cached decode step. */
  program: 'prefill' | 'decode';
  /** Query blocks of a prefill of one long prompt (0: none). */
  queryBlocks: number;
  ms: number;
}

export type Floats = Float32Array | Float64Array;

/**
 * The head's product for every run, whatever its rows: (W h^T)^T in blocks of 16 rows (lmHeadFewRows; faster
 * than h W^T for a few rows). One product for all batch sizes keeps a row's logits independent of how many
 * rows shared its step (the two products round differently).
 */
const HEAD: HeadRows = 'few-rows';

export class StepRunner {
  /** Called after every program run (benchmarks, progress). */
  onStep: ((info: StepInfo) => void) | null = null;
  private readonly sessions = new Map<string, Promise<Session>>();

  constructor(
    private readonly config: Qwen3Config,
    private readonly device: Device,
    private readonly dtype: FloatType,
    private readonly weightPrefix: string,
    private readonly cache: KvCache<FedSequence>,
    /** Throws when a run of `rows` x `tokens` (prefill: in `blocks` query blocks) would not fit in memory. */
    private readonly checkStep: (rows: number, tokens: number, prefill: boolean, blocks: number) => void,
  ) {}

  /**
   * Feeds `fed` their pending tokens in one run (prefill: the fused program, rows anywhere in the cache; decode:
   * the leading cache rows, in this order). Returns logits [fed, vocab] and lse [fed] at each one's last token;
   * the caller advances the sequences (cached, pending).
   */
  async run(fed: FedSequence[], prefill: boolean): Promise<{ logits: Floats; lse: Floats }> {
    const started = performance.now();
    const t = Math.max(...fed.map((s) => s.pending.length));
    const attention = prefill ? prefillAttention(fed.length, t) : null;
    const blocks = attention ? queryBlocks(attention) : 0;
    // A blocked prefill takes one row only (the kernel's past); every other run at least MIN_ROWS.
    const b = blocks > 0 ? 1 : Math.max(MIN_ROWS, fed.length);
    this.checkStep(fed.length, t, prefill, blocks);
    const ids = new BigInt64Array(b * t);
    const pos = new BigInt64Array(b * t);
    const valid = new Uint8Array(b * t);
    const pastLen = new BigInt64Array(b);
    const last = new BigInt64Array(b);
    const slots = new Int32Array(b * t).fill(-1);
    for (let r = 0; r < b; r++) {
      const s = fed[r];
      // A padding row: one valid token at position 0 over nothing cached (finite everywhere), written nowhere.
      const tokens = s ? s.pending : [0];
      const cached = s ? s.cached : 0;
      pastLen[r] = BigInt(cached);
      tokens.forEach((tok, i) => {
        ids[r * t + i] = BigInt(tok);
        pos[r * t + i] = BigInt(cached + i);
        valid[r * t + i] = 1;
        if (s) slots[r * t + i] = cached + i;
      });
      last[r] = BigInt(r * t + tokens.length - 1);
    }
    const session = await this.session(prefill ? `prefill:${attention}` : 'decode', () => (prefill ? prefillProgram(this.config, HEAD, attention!) : decodeProgram(this.config, this.dtype, HEAD)).bytes);
    const feeds: Record<string, Feed> = {
      input_ids: { dtype: 'int64', shape: [b, t], data: ids },
      position_ids: { dtype: 'int64', shape: [b, t], data: pos },
      new_valid: { dtype: 'bool', shape: [b, t], data: valid },
      past_len: { dtype: 'int64', shape: [b], data: pastLen },
      last_index: { dtype: 'int64', shape: [b], data: last },
    };
    const fetches: Record<string, string | null> = { logits: null, lse: null };
    this.cache.names.layers.forEach((n, l) => {
      feeds[`past_keys.${l}`] = { stored: n.keys, rows: b };
      feeds[`past_values.${l}`] = { stored: n.values, rows: b };
      fetches[`new_keys.${l}`] = n.newKeys;
      fetches[`new_values.${l}`] = n.newValues;
    });
    for (const name of Object.keys(feeds)) if (!session.inputs.includes(name)) delete feeds[name];
    for (const name of session.inputs) if (!(name in feeds)) feeds[name] = this.weightPrefix + name;
    const out = await this.device.run(session, feeds, fetches);
    const writes = this.cache.names.layers.flatMap((n) => [
      { dst: n.keys, src: n.newKeys, keysTransposed: true },
      { dst: n.values, src: n.newValues, keysTransposed: false },
    ]);
    // A prefill's rows go to each sequence's own cache row (padding rows write nothing; row 0 is a valid target).
    const rows = prefill ? Int32Array.from({ length: b }, (_, r) => (fed[r] ? this.cache.rowOf(fed[r]) : 0)) : null;
    await this.device.writeSlots(writes, slots, rows);
    this.onStep?.({ rows: fed.length, tokens: t, program: prefill ? 'prefill' : 'decode', queryBlocks: blocks, ms: performance.now() - started });
    const v = this.config.vocabSize;
    return { logits: (out.logits.data as Floats).subarray(0, fed.length * v), lse: (out.lse.data as Floats).subarray(0, fed.length) };
  }

  async close(): Promise<void> {
    for (const session of this.sessions.values()) await this.device.release(await session).catch(() => undefined);
    this.sessions.clear();
  }

  private session(key: string, build: () => Uint8Array): Promise<Session> {
    if (!this.sessions.has(key)) this.sessions.set(key, this.device.load(build(), this.dtype));
    return this.sessions.get(key)!;
  }
}
