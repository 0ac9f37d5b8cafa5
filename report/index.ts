// The run report: one self-contained HTML file, `<run dir>/report.html`, that opens offline (inline CSS and SVG,
// no script). Written by `agentrl report <run-id>` and at the end of each stage. It shows what exists: a run that
// stopped after balance gets a report with the balance parts, and says which parts are not there yet.
import { join } from 'node:path';
import { writeBytesAtomic } from '../core/atomic-write.ts';
import type { ArtifactRef } from '../schemas/artifact.ts';
import { balanceSection } from './balance.ts';
import { esc, page } from './html.ts';
import { lineageSection, recipeSection } from './overview.ts';
import { readRun, STAGE_ORDER, type RunData, type StageData } from './run.ts';
import { countsBlock, metricsSection, STAGE_TITLES, trajectoriesSection } from './training.ts';

export { readRun } from './run.ts';
export type { RunData, StageData } from './run.ts';
export { ReportInputError } from './table.ts';

export const REPORT_FILE = 'report.html';

async function stageSection(s: StageData): Promise<string> {
  if (s.stage === 'balance') return balanceSection(s);
  const title = STAGE_TITLES[s.stage] ?? s.stage;
  return `<h2 id="${esc(s.stage)}">${esc(title)}</h2>
${s.audit ? '' : '<p class="note">No audit record yet: the stage has not finished.</p>'}
${await metricsSection(s)}
${countsBlock(s)}
${trajectoriesSection(s.trajectories, s.stage)}`;
}

/** The report's HTML. Deterministic: the same run directory gives the same bytes (no clock, no random ids). */
export async function renderRunReport(run: RunData): Promise<string> {
  const present = new Set(run.stages.map((s) => s.stage));
  const missing = STAGE_ORDER.filter((s) => !present.has(s)).map((s) => STAGE_TITLES[s] ?? s);
  const nav = [['recipe', 'Recipe'], ['lineage', 'Lineage'], ...run.stages.map((s) => [s.stage, STAGE_TITLES[s.stage] ?? s.stage])]
    .map(([id, label]) => `<a href="#${esc(id)}">${esc(label)}</a>`)
    .join('');
  const sections: string[] = [];
  for (const s of run.stages) sections.push(await stageSection(s));
  const body = `<h1>Run ${esc(run.runId)}</h1>
<p class="muted">Run directory <code>${esc(run.runDir)}</code>. Stages with records: ${esc(run.stages.map((s) => s.stage).join(', ') || 'none')}.
${missing.length > 0 ? `Not in this run (yet): ${esc(missing.join(', '))}.` : ''}</p>
<nav>${nav}</nav>
${recipeSection(run)}
${lineageSection(run)}
${sections.join('\n')}`;
  return page(`agentrl run ${run.runId}`, body);
}

/** Writes `<runDir>/report.html` atomically and returns its reference (format 'other': an HTML page). */
export async function writeRunReport(runDir: string): Promise<ArtifactRef> {
  const html = await renderRunReport(readRun(runDir));
  const path = join(runDir, REPORT_FILE);
  const written = await writeBytesAtomic(path, html);
  return { path, sha256: written.sha256, rows: 0, bytes: written.bytes, format: 'other' };
}
