// Dedupe and the seeded balanced sample (runs inside a worker thread). A first pass streams only the small id
// columns of every candidate (key, uid, file, row) to resolve duplicates and ranks; a second pass copies the
// full rows of the selected few. Every decision depends only on row content, the seed and the priority list, so
// file order and reader choice cannot change the sample.
import type { ArtifactRef } from '../../schemas/artifact.ts';
import { CANDIDATE_SCHEMA, REJECT_SCHEMA, SELECTED_SCHEMA } from '../../schemas/balance.ts';
import { verifyArtifact } from '../artifacts.ts';
import { ShortfallError } from '../errors.ts';
import type { Short } from '../errors.ts';
import { buildBatch, ColumnBuffer, IpcStreamFile } from '../io/arrow-write.ts';
import type { Vector } from 'apache-arrow';
import { cellGetter, utf8Slices } from '../io/fast-columns.ts';
import { IpcColumns } from '../io/ipc-columns.ts';
import { sampleRank } from './normalise.ts';

export interface SelectCounts {
  candidates: number;
  duplicateWithin: number;
  duplicateAcross: number;
  eligible: number;
  sampled: number;
  shortfall: number;
}

export interface SelectArgs {
  inputs: { source: string; candidates: ArtifactRef; take: number }[];
  seed: number;
  priority: string[];
  shortfall: 'error' | 'take_all';
  workDir: string;
}

interface Copy {
  uid: string;
  file: string;
  row: number;
  /** Where the row is in the candidates file: batch number and row within the batch. */
  batch: number;
  index: number;
}

interface RejectRow extends Copy {
  source: string;
  reason: 'duplicate_within_source' | 'duplicate_across_sources';
  detail: string;
}

/** Total order on copies of one problem within a source: smallest uid, then file, then row. */
function before(a: Copy, b: Copy): boolean {
  if (a.uid !== b.uid) return a.uid < b.uid;
  if (a.file !== b.file) return a.file < b.file;
  return a.row < b.row;
}

interface Ranked {
  copy: Copy;
  rank: string;
}

const byRankThenUid = (a: Ranked, b: Ranked): number => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.copy.uid < b.copy.uid ? -1 : a.copy.uid > b.copy.uid ? 1 : 0);

/**
 * The `k` smallest items in ascending order: the same as sorting all and taking the first k, without sorting
 * ~600k ranks to keep 400. Only items below the current k-th are inserted (binary search into a short array).
 */
export function smallest<T>(items: T[], k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  if (k <= 0) return best;
  for (const item of items) {
    if (best.length === k && cmp(item, best[k - 1]) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(best[mid], item) <= 0) lo = mid + 1;
      else hi = mid;
    }
    best.splice(lo, 0, item);
    if (best.length > k) best.pop();
  }
  return best;
}

/** Index of the first row whose Utf8 value is not `expected` (-1 if none), comparing bytes without decoding. */
function firstOtherValue(vector: Vector, expected: string): number {
  const slices = utf8Slices(vector);
  if (!slices || vector.nullCount > 0) {
    for (let i = 0; i < vector.length; i++) if (vector.get(i) !== expected) return i;
    return -1;
  }
  const want = Buffer.from(expected);
  const { bytes, offsets } = slices;
  for (let i = 0; i < vector.length; i++) {
    const start = offsets[i];
    if (offsets[i + 1] - start !== want.length) return i;
    for (let j = 0; j < want.length; j++) if (bytes[start + j] !== want[j]) return i;
  }
  return -1;
}

/** Sources in dedupe order: those named in `priority` first (in that order), then the rest by name. */
export function dedupeOrder(sources: string[], priority: string[]): string[] {
  const listed = priority.filter((p) => sources.includes(p));
  const rest = sources.filter((s) => !priority.includes(s)).sort();
  return [...listed, ...rest];
}

export async function selectRows(args: SelectArgs): Promise<{ selected: ArtifactRef; rejects: ArtifactRef; counts: Record<string, SelectCounts> }> {
  for (const input of args.inputs) await verifyArtifact(input.candidates, { sizeOnly: true });
  const byName = new Map<string, SelectArgs['inputs'][number]>();
  for (const input of args.inputs) {
    if (byName.has(input.source)) throw new Error(`selectBalanced: source "${input.source}" is listed twice`);
    byName.set(input.source, input);
  }
  const order = dedupeOrder([...byName.keys()], args.priority);
  const owner = new Map<string, string>(); // content key -> "source uid" that kept it
  const rejects: RejectRow[] = [];
  const counts: Record<string, SelectCounts> = {};
  const picks = new Map<string, Copy[]>(); // source -> its selected rows, in rank order
  const shorts: Short[] = [];

  for (const source of order) {
    const input = byName.get(source)!;
    const c: SelectCounts = { candidates: 0, duplicateWithin: 0, duplicateAcross: 0, eligible: 0, sampled: 0, shortfall: 0 };
    counts[source] = c;
    const kept = new Map<string, Copy>();
    const within: { loser: Copy; key: string }[] = [];
    const file = new IpcColumns(input.candidates.path, CANDIDATE_SCHEMA);
    try {
      for (let b = 0; b < file.batches.length; b++) {
        const n = file.batches[b].length;
        if (n === 0) continue;
        const sourceColumn = file.column(b, 'data_source');
        const foreign = firstOtherValue(sourceColumn, source);
        if (foreign >= 0) {
          throw new Error(`${input.candidates.path}: row ${foreign} belongs to source "${String(sourceColumn.get(foreign))}", not "${source}"`);
        }
        const keys = cellGetter(file.column(b, 'content_key'));
        const uids = cellGetter(file.column(b, 'uid'));
        const files = cellGetter(file.column(b, 'source_file'));
        const rows = file.column(b, 'source_row').data[0].values as BigInt64Array;
        for (let i = 0; i < n; i++) {
          c.candidates++;
          const key = keys(i) as string;
          const copy: Copy = { uid: uids(i) as string, file: files(i) as string, row: Number(rows[i]), batch: b, index: i };
          const prev = kept.get(key);
          if (!prev) kept.set(key, copy);
          else if (before(copy, prev)) {
            kept.set(key, copy);
            within.push({ loser: prev, key });
          } else within.push({ loser: copy, key });
        }
      }
    } finally {
      file.close();
    }
    for (const { loser, key } of within) {
      const k = kept.get(key)!;
      rejects.push({ ...loser, source, reason: 'duplicate_within_source', detail: `same problem as kept ${k.uid} (${k.file} row ${k.row})` });
    }
    c.duplicateWithin = within.length;
    const eligible: Ranked[] = [];
    for (const [key, copy] of kept) {
      const holder = owner.get(key);
      if (holder !== undefined) {
        rejects.push({ ...copy, source, reason: 'duplicate_across_sources', detail: `same problem kept in ${holder}` });
        c.duplicateAcross++;
        continue;
      }
      owner.set(key, `${source} ${copy.uid}`);
      eligible.push({ copy, rank: sampleRank(args.seed, source, copy.uid) });
    }
    c.eligible = eligible.length;
    if (eligible.length < input.take) {
      if (args.shortfall === 'error') shorts.push({ source, eligible: eligible.length, asked: input.take });
      c.shortfall = input.take - eligible.length;
    }
    const chosen = smallest(eligible, input.take, byRankThenUid).map((e) => e.copy);
    c.sampled = chosen.length;
    picks.set(source, chosen);
  }

  // Every short source is reported at once: fixing them one failed run at a time wastes a run per source.
  if (shorts.length) throw new ShortfallError(shorts);
  const selected = await copySelected(args, order, picks);
  const rejectsRef = await writeSelectRejects(rejects, args.workDir);
  return { selected, rejects: rejectsRef, counts };
}

/** Second pass: reads just the chosen rows' cells, ordered by data_source then rank. */
async function copySelected(args: SelectArgs, order: string[], picks: Map<string, Copy[]>): Promise<ArtifactRef> {
  const out = await IpcStreamFile.create(SELECTED_SCHEMA, args.workDir, 'selected');
  const names = CANDIDATE_SCHEMA.fields.map((f) => f.name);
  for (const source of [...order].sort()) {
    const chosen = picks.get(source)!;
    const input = args.inputs.find((i) => i.source === source)!;
    const file = new IpcColumns(input.candidates.path, CANDIDATE_SCHEMA);
    try {
      // Write per source in slices so a source with large code tests never builds one huge batch.
      for (let s = 0; s < chosen.length; s += 256) {
        const rows = chosen.slice(s, s + 256).map((copy, k) => [...names.map((n) => file.value(copy.batch, n, copy.index)), s + k]);
        out.write(buildBatch(SELECTED_SCHEMA, SELECTED_SCHEMA.fields.map((_, ci) => rows.map((r) => r[ci]))));
      }
    } finally {
      file.close();
    }
  }
  return out.commit();
}

async function writeSelectRejects(rejects: RejectRow[], workDir: string): Promise<ArtifactRef> {
  // Sorted so the table does not depend on the order the duplicates were met in.
  rejects.sort((a, b) => (a.source !== b.source ? (a.source < b.source ? -1 : 1) : a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.row - b.row));
  const out = await IpcStreamFile.create(REJECT_SCHEMA, workDir, 'select-rejects');
  const buf = new ColumnBuffer(REJECT_SCHEMA);
  for (const r of rejects) {
    buf.push(r.source, r.file, r.row, r.reason, r.detail, r.uid);
    if (buf.length >= 8192) out.write(buf.flush());
  }
  if (buf.length) out.write(buf.flush());
  return out.commit();
}
