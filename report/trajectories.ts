// The rollouts a report shows: a handful per validation point, read from the GRPO stage's scored validation records
// (schemas/trajectory.ts: one Arrow row per rollout, `turns` as a list of structs, reward columns filled). Read by column name, not through that module, so a report still renders when the
// record gains columns, and a record of chat messages (role/content) is shown too.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Table } from 'apache-arrow';
import { parseScoredRecordName } from '../schemas/trajectory.ts';
import { readArrowTable, tableRows } from './table.ts';

/** One block of a rendered conversation. `trained` is false for tokens the loss mask excludes (mask 0). */
export interface ShownBlock {
  role: string;
  text: string;
  trained: boolean;
  tokens?: number;
  /** An executed tool call: the tool and the program sent to it. */
  call?: { name: string; input: string };
  status?: string;
}

export interface ShownTrajectory {
  step: number | null;
  source: string;
  id: string;
  finish?: string;
  /** Reward components and counts, in column order (outcome, tcr, overlong, reward, ...). */
  reward: [string, number | boolean | string | null][];
  detail?: string;
  blocks: ShownBlock[];
}

export interface TrajectorySample {
  files: string[];
  /** True when the record flags validation rows and these are they. */
  validation: boolean;
  totalRows: number;
  points: { step: number | null; trajectories: ShownTrajectory[] }[];
}

const REWARD_FIELDS = ['outcome', 'outcome_correct', 'tcr', 'overlong', 'reward', 'score', 'advantage', 'num_turns', 'tool_rounds', 'malformed_calls', 'response_length'];

/** The GRPO stage's scored validation records (`<stageDir>/work/scored/step-N-val.arrow`), in step order. */
export function findTrajectoryFiles(stageDir: string): string[] {
  const dir = join(stageDir, 'work', 'scored');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, parsed: parseScoredRecordName(name) }))
    .filter((f) => f.parsed?.validation)
    .sort((a, b) => a.parsed!.step - b.parsed!.step)
    .map((f) => join(dir, f.name));
}

type Row = Record<string, unknown>;

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** A rollout's identity across the unscored and scored files; undefined when the record has no such columns. */
function rowKey(r: Row): string | undefined {
  const parts = ['step', 'prompt_uid', 'sample_index', 'validation'].filter((k) => k in r).map((k) => String(r[k]));
  return parts.length >= 2 ? parts.join('|') : undefined;
}

// A scored file repeats the unscored rows with the reward filled: keep, per rollout, the row that says most.
function filled(r: Row): number {
  return REWARD_FIELDS.filter((k) => r[k] !== null && r[k] !== undefined).length;
}

// What choosing rows needs; the token-level lists (ids, masks, log-probs) are converted only for rows shown.
const KEY_COLUMNS = ['step', 'global_step', 'prompt_uid', 'sample_index', 'validation', 'data_source', 'source', ...REWARD_FIELDS];

interface Candidate {
  key: Row;
  table: Table;
  index: number;
}

export function sampleTrajectories(files: string[], perPoint = 4, maxPoints = 6): TrajectorySample | undefined {
  if (files.length === 0) return undefined;
  const byKey = new Map<string, Candidate>();
  let totalRows = 0;
  for (const file of files) {
    const table = readArrowTable(file);
    tableRows(table, { columns: KEY_COLUMNS }).forEach((key, index) => {
      totalRows++;
      const id = rowKey(key) ?? `${file}#${index}`;
      const prev = byKey.get(id);
      if (!prev || filled(key) > filled(prev.key)) byKey.set(id, { key, table, index });
    });
  }
  let rows = [...byKey.values()];
  const validation = rows.some((r) => r.key.validation === true);
  if (validation) rows = rows.filter((r) => r.key.validation === true);

  const bySteps = new Map<number | null, Candidate[]>();
  for (const r of rows) {
    const step = num(r.key.step) ?? num(r.key.global_step);
    bySteps.set(step, [...(bySteps.get(step) ?? []), r]);
  }
  const steps = [...bySteps.keys()].sort((a, b) => (a ?? -1) - (b ?? -1));
  const points = spread(steps, maxPoints).map((step) => ({
    step,
    trajectories: pickAcrossSources(bySteps.get(step)!, perPoint).map((c) => showTrajectory(tableRows(c.table, { rows: [c.index] })[0])),
  }));
  return { files, validation, totalRows, points };
}

/** Up to `n` items evenly spaced, always with the first and the last. */
function spread<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.round((i * (items.length - 1)) / (n - 1))]);
}

/** Round-robin over sources (sorted), file order within a source: a handful that shows every source. */
function pickAcrossSources(rows: Candidate[], n: number): Candidate[] {
  const bySource = new Map<string, Candidate[]>();
  for (const r of rows) {
    const s = str(r.key.data_source) ?? str(r.key.source) ?? '';
    bySource.set(s, [...(bySource.get(s) ?? []), r]);
  }
  const queues = [...bySource.keys()].sort().map((k) => bySource.get(k)!);
  const out: Candidate[] = [];
  for (let i = 0; out.length < n && queues.some((q) => i < q.length); i++) {
    for (const q of queues) if (i < q.length && out.length < n) out.push(q[i]);
  }
  return out;
}

function showTrajectory(r: Row): ShownTrajectory {
  const id = [str(r.prompt_uid) ?? str(r.uid) ?? str(r.id), r.sample_index !== undefined ? `#${r.sample_index}` : '']
    .filter(Boolean)
    .join(' ');
  const reward = REWARD_FIELDS.filter((k) => k in r).map((k): [string, number | boolean | string | null] => [k, r[k] as number | boolean | null]);
  const blocks: ShownBlock[] = [];
  const prompt = str(r.prompt_text) ?? str(r.prompt);
  if (prompt !== undefined) blocks.push({ role: 'prompt', text: prompt, trained: false });
  else if (Array.isArray(r.prompt_ids)) blocks.push({ role: 'prompt', text: `(${r.prompt_ids.length} prompt tokens; the record keeps ids only)`, trained: false, tokens: r.prompt_ids.length });
  if (Array.isArray(r.turns)) for (const t of r.turns as Row[]) blocks.push(...turnBlocks(t));
  else if (Array.isArray(r.messages)) for (const m of r.messages as Row[]) blocks.push(messageBlock(m));
  else if (str(r.response) !== undefined) blocks.push({ role: 'assistant', text: str(r.response)!, trained: true });
  return { step: num(r.step), source: str(r.data_source) ?? str(r.source) ?? '', id, finish: str(r.finish_reason), reward, detail: str(r.outcome_detail), blocks };
}

/** A generated turn (trained, mask 1) and the tool turn appended after it (mask 0). */
function turnBlocks(t: Row): ShownBlock[] {
  const out: ShownBlock[] = [];
  let call: ShownBlock['call'];
  const callText = str(t.call);
  if (callText !== undefined || str(t.tool_input) !== undefined) {
    let name = 'tool';
    try {
      name = String((JSON.parse(callText ?? '{}') as { name?: unknown }).name ?? 'tool');
    } catch {
      // A call that is not JSON is still shown, under its raw text below.
    }
    call = { name, input: str(t.tool_input) ?? callText ?? '' };
  }
  out.push({ role: 'assistant', text: str(t.text) ?? str(t.content) ?? '', trained: true, tokens: num(t.generated_tokens) ?? undefined, call, status: str(t.parse_status) });
  const outputs = Array.isArray(t.tool_output) ? (t.tool_output as unknown[]).map(String) : str(t.tool_output) !== undefined ? [str(t.tool_output)!] : [];
  if (outputs.length > 0 || str(t.tool_status) !== undefined) {
    out.push({ role: 'tool', text: outputs.join('\n'), trained: false, tokens: num(t.tool_tokens) ?? undefined, status: str(t.tool_status) });
  }
  return out;
}

/** A chat message: only assistant turns are generated, so only they carry loss (unless the row says otherwise). */
function messageBlock(m: Row): ShownBlock {
  const role = str(m.role) ?? 'unknown';
  const flag = m.trained ?? m.trainable ?? m.loss_mask;
  const trained = flag === undefined || flag === null ? role === 'assistant' : Boolean(flag);
  return { role, text: str(m.content) ?? '', trained };
}
