// The run's provenance: the recipe it ran, the code that ran it, and each stage's inputs and outputs with their
// sha256 and row counts (what a reader checks before trusting any plot below).
import { relative, isAbsolute } from 'node:path';
import type { CodeVersion } from '../schemas/stage.ts';
import { code, details, esc, table, type Cell } from './html.ts';
import type { AuditRecord, RunData, StageData } from './run.ts';

/** Audit fields this page shows in their own place; anything else a stage records is listed raw. */
export const SHOWN_AUDIT_FIELDS = new Set(['stage', 'runId', 'workflowId', 'recipeName', 'recipeHash', 'seed', 'codeVersion', 'startedAt',
  'finishedAt', 'inputs', 'counts', 'outputs', 'timings', 'recipe']);

export function recipeSection(run: RunData): string {
  const audits = run.stages.filter((s) => s.audit).map((s) => [s.stage, s.audit!] as const);
  if (audits.length === 0) return `<h2 id="recipe">Recipe and code</h2><p class="absent">No stage has written an audit record yet.</p>`;
  const rows: Cell[][] = audits.map(([stage, a]) => [stage, a.recipeName, code(a.recipeHash), a.seed, codeText(a.codeVersion), a.startedAt, a.finishedAt]);
  const withRecipe = audits.find(([, a]) => a.recipe && typeof a.recipe === 'object');
  const recipe = withRecipe
    ? details(`Effective recipe (defaults filled), from the ${withRecipe[0]} audit`, `<pre>${esc(JSON.stringify(withRecipe[1].recipe, null, 2))}</pre>`, true)
    : `<p class="note">The audit records carry the recipe's name, hash and seed; the full recipe is not recorded in them.</p>`;
  return `<h2 id="recipe">Recipe and code</h2>
${table(['stage', 'recipe', 'recipe sha256', 'seed', 'code version', 'started', 'finished'], rows)}
${recipe}`;
}

function codeText(v: CodeVersion | undefined): Cell {
  if (!v) return '';
  const commit = v.gitCommit ? ` @ ${v.gitCommit}${v.gitDirty ? ' (with local edits)' : ''}` : ' (no git commit recorded)';
  return code(`${v.package} ${v.version}${commit}`);
}

interface FileRef {
  path?: unknown;
  sha256?: unknown;
  rows?: unknown;
  bytes?: unknown;
}

function refs(value: unknown): FileRef[] {
  if (Array.isArray(value)) return value.filter((v) => v && typeof v === 'object') as FileRef[];
  return value && typeof value === 'object' ? [value as FileRef] : [];
}

function shownPath(path: unknown, runDir: string): string {
  const p = String(path ?? '');
  if (!isAbsolute(p)) return p;
  const rel = relative(runDir, p);
  return rel.startsWith('..') ? p : rel;
}

export function lineageSection(run: RunData): string {
  const parts = run.stages.filter((s) => s.audit).map((s) => stageLineage(s, run.runDir));
  if (parts.length === 0) return '';
  return `<h2 id="lineage">Lineage</h2>
<p class="note">Each stage's inputs and outputs as its audit recorded them. Paths inside the run directory are shown relative to <code>${esc(run.runDir)}</code>.</p>
${parts.join('\n')}`;
}

function stageLineage(s: StageData, runDir: string): string {
  const a = s.audit as AuditRecord;
  const rows: Cell[][] = [];
  for (const [kind, group] of [['input', a.inputs], ['output', a.outputs]] as const) {
    for (const [name, value] of Object.entries((group ?? {}) as Record<string, unknown>)) {
      for (const f of refs(value)) {
        rows.push([kind, name, code(shownPath(f.path, runDir)), typeof f.rows === 'number' ? f.rows : '', typeof f.bytes === 'number' ? f.bytes : '', code(f.sha256)]);
      }
    }
  }
  const timings = Array.isArray(a.timings) && a.timings.length > 0
    ? details(`${s.stage}: step timings`, table(['step', 'started', 'ms'], a.timings.map((t) => [t.step, t.startedAt, t.ms])))
    : '';
  const extra = Object.fromEntries(Object.entries(a).filter(([k]) => !SHOWN_AUDIT_FIELDS.has(k)));
  const more = Object.keys(extra).length > 0 ? details(`${s.stage}: other audit fields`, `<pre>${esc(JSON.stringify(extra, null, 2))}</pre>`) : '';
  const body = rows.length > 0 ? table(['', 'name', 'path', 'rows', 'bytes', 'sha256'], rows, 'lineage') : `<p class="absent">The audit lists no files.</p>`;
  return `<h3>${esc(s.stage)}${a.workflowId ? ` <span class="muted">(workflow ${esc(a.workflowId)})</span>` : ''}</h3>\n${body}\n${timings}${more}`;
}
