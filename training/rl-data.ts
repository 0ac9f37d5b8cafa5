// The GRPO stage's prompts (no Temporal here): verl RL parquet rows (recipe.md section 7) read into RlPrompt, rows
// that cannot be scored rejected with their uid and reason before any rollout (rewards/score.ts checkScorable), the
// validation split by a seeded hash of the uid, and the prompts of each RL step in a seeded per-epoch order.
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';
import { checkScorable } from '../rewards/score.ts';
import type { RlPrompt } from '../schemas/grpo.ts';
import { epochOrder, batchRows } from './batches.ts';

export interface RlReject {
  file: string;
  row: number;
  uid: string;
  reason: string;
}

function plain(v: any): any {
  return v && typeof v.toJSON === 'function' ? v.toJSON() : v;
}

/** Reads verl RL parquet files; unscorable rows go to rejects (never an exception mid-run). */
export async function readRlFiles(files: readonly string[]): Promise<{ rows: RlPrompt[]; rejects: RlReject[]; perFile: { path: string; rows: number }[] }> {
  const rows: RlPrompt[] = [];
  const rejects: RlReject[] = [];
  const perFile: { path: string; rows: number }[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    const table = tableFromIPC(readParquet(await readFile(file)).intoIPCStream());
    perFile.push({ path: file, rows: table.numRows });
    for (const name of ['data_source', 'prompt', 'reward_model']) {
      if (!table.getChild(name)) throw Object.assign(new Error(`${file}: not a verl RL parquet (no "${name}" column)`), { name: 'BadInputError' });
    }
    for (let i = 0; i < table.numRows; i++) {
      const r = plain(table.get(i)) as Record<string, any>;
      const extra = plain(r.extra_info) ?? {};
      const dataSource = String(r.data_source ?? '');
      const uid = String(extra.uid ?? (extra.index !== undefined && extra.index !== null ? `${dataSource}-${extra.index}` : `${file}#${i}`));
      const reject = (reason: string) => rejects.push({ file, row: i, uid, reason });
      if (seen.has(uid)) {
        reject('duplicate uid');
        continue;
      }
      const prompt = r.prompt ? Array.from(r.prompt as Iterable<unknown>, (m) => plain(m) as { role: string; content: string }) : [];
      if (prompt.length === 0 || prompt.some((m) => typeof m?.content !== 'string' || !['system', 'user', 'assistant'].includes(m.role))) {
        reject('prompt: expected a list of {role: system|user|assistant, content: string}');
        continue;
      }
      const row: RlPrompt = {
        uid,
        dataSource,
        ability: String(r.ability ?? ''),
        groundTruth: String(plain(r.reward_model)?.ground_truth ?? ''),
        messages: prompt.map((m) => ({ role: m.role as 'user', content: m.content })),
      };
      try {
        checkScorable(row);
      } catch (err) {
        reject((err as Error).message);
        continue;
      }
      seen.add(uid);
      rows.push(row);
    }
  }
  return { rows, rejects, perFile };
}

/**
 * Splits off `fraction` of the rows (at least one when there are two or more), each data source in proportion, by
 * a seeded hash of the uid. Validation reports mean@n per source and averages over sources, and a plain hash split
 * of a small set can leave a source out. The total is round(fraction * rows); it is shared out by largest remainder
 * (ties to the source named first).
 */
export function splitValidation(rows: readonly RlPrompt[], fraction: number, seed: number): { train: RlPrompt[]; val: RlPrompt[] } {
  const key = (r: RlPrompt) => createHash('sha256').update(`agentrl-grpo-val\u0000${seed}\u0000${r.uid}`).digest('hex');
  const ranked = rows.map((r) => ({ r, key: key(r) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const bySource = new Map<string, RlPrompt[]>();
  for (const { r } of ranked) bySource.set(r.dataSource, [...(bySource.get(r.dataSource) ?? []), r]);
  const total = rows.length < 2 ? 0 : Math.max(1, Math.round(fraction * rows.length));
  const shares = [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([source, group]) => ({ source, group, exact: (total * group.length) / rows.length, take: Math.floor((total * group.length) / rows.length) }));
  let left = total - shares.reduce((n, s) => n + s.take, 0);
  for (const s of [...shares].sort((a, b) => b.exact - b.take - (a.exact - a.take))) {
    if (left === 0) break;
    s.take++;
    left--;
  }
  const val = new Set(shares.flatMap((s) => s.group.slice(0, s.take).map((r) => r.uid)));
  return { train: rows.filter((r) => !val.has(r.uid)), val: rows.filter((r) => val.has(r.uid)) };
}

/** Full batches per epoch (verl drops the last incomplete batch). */
export function grpoStepsPerEpoch(trainRows: number, batchSize: number): number {
  return Math.floor(trainRows / batchSize);
}

/** The prompts of RL step `step` (1-based): batch (step - 1) mod stepsPerEpoch of epoch floor((step - 1) / stepsPerEpoch). */
export function stepPrompts(train: readonly RlPrompt[], seed: number, batchSize: number, step: number): { epoch: number; rows: RlPrompt[] } {
  const spe = grpoStepsPerEpoch(train.length, batchSize);
  const epoch = Math.floor((step - 1) / spe);
  const order = epochOrder(seed, epoch, train.map((r) => r.uid));
  return { epoch, rows: batchRows(order, batchSize, (step - 1) % spe).map((i) => train[i]) };
}
