// A training stage's evidence: every per-step metric as a plot (grouped as metrics.ts decides), and a handful of
// rollouts per validation point rendered as conversations with their reward breakdown.
import { basename } from 'node:path';
import { metricSpec, renderSvg } from './charts.ts';
import { details, esc, figure, formatNumber, table, type Cell } from './html.ts';
import { groupMetrics, type MetricSeries } from './metrics.ts';
import { validationComparison } from './validation-compare.ts';
import { VAL_BASELINE_PREFIX } from '../schemas/headline-metrics.ts';
import type { StageData } from './run.ts';
import type { ShownBlock, ShownTrajectory, TrajectorySample } from './trajectories.ts';

export const STAGE_TITLES: Record<string, string> = { balance: 'Balance', sft: 'SFT cold start', grpo: 'GRPO-TCR' };

export async function metricsSection(s: StageData): Promise<string> {
  if (!s.metrics) return `<p class="absent">No per-step metrics table (${esc(s.stage)}/metrics.parquet) yet.</p>`;
  const m = s.metrics;
  // The baseline's columns hold one value each (before training): shown in the comparison table, not plotted.
  const sections = groupMetrics(s.stage, m.series.filter((x) => !x.name.startsWith(VAL_BASELINE_PREFIX)));
  const figures: string[] = [];
  for (const [i, section] of sections.entries()) {
    const svg = await renderSvg(metricSpec(section, m.stepColumn), `${s.stage}-plot-${i + 1}`);
    figures.push(figure(section.title, svg, section.note));
  }
  const intro = `<p class="note">${m.rows} rows from <code>${esc(basename(m.path))}</code>; x axis: <code>${esc(m.stepColumn)}</code>; ${m.series.length} numeric metrics.</p>`;
  const compare = s.stage === 'grpo' ? validationComparison(m.series) : '';
  return `${intro}\n${compare}\n${firstLast(sections.filter((x) => x.known).flatMap((x) => x.series))}\n<div class="plots">\n${figures.join('\n')}\n</div>`;
}

/** The numbers a reader compares first: each named-section metric at its first and last step. */
function firstLast(series: MetricSeries[]): string {
  if (series.length === 0) return '';
  const rows: Cell[][] = series.map((s) => {
    const a = s.points[0];
    const b = s.points[s.points.length - 1];
    return [s.name, a.step, a.value, b.step, b.value, b.value - a.value];
  });
  return details('First and last values', table(['metric', 'first step', 'first', 'last step', 'last', 'change'], rows), true);
}

export function countsBlock(s: StageData): string {
  const counts = s.audit?.counts;
  if (!counts || Object.keys(counts).length === 0) return '';
  return details(`${s.stage}: counts recorded in the audit`, `<pre>${esc(JSON.stringify(counts, null, 2))}</pre>`);
}

export function trajectoriesSection(sample: TrajectorySample | undefined, stage: string): string {
  if (!sample) return '';
  const what = sample.validation ? 'validation rollouts' : 'rollouts (the record flags no validation rows)';
  const points = sample.points.map((p) => {
    const head = `<h4>Step ${esc(p.step ?? '?')}: ${p.trajectories.length} ${what}</h4>`;
    return head + p.trajectories.map(renderTrajectory).join('\n');
  });
  return `<h3 id="${esc(stage)}-trajectories">Trajectories</h3>
<p class="note">${sample.totalRows} rows in ${sample.files.map((f) => `<code>${esc(basename(f))}</code>`).join(', ')}; a handful per validation point, sources in turn.
A dash is a null (not scored yet; validation rows get no advantage). Blue turns are generated tokens (loss mask 1, trained); hatched grey turns are masked (mask 0: prompt and tool output, never trained).</p>
${points.join('\n')}`;
}

function rewardCell(v: number | boolean | string | null): Cell {
  if (v === null || v === undefined) return '—';
  return typeof v === 'number' ? formatNumber(v) : String(v);
}

function renderTrajectory(t: ShownTrajectory): string {
  const head = [t.source || 'unknown source', t.id, t.finish ? `finish: ${t.finish}` : ''].filter(Boolean).map(esc).join(' · ');
  const reward = t.reward.length > 0 ? table(t.reward.map(([k]) => k), [t.reward.map(([, v]) => rewardCell(v))], 'reward') : '';
  const detail = t.detail ? `<p class="note">outcome detail: <code>${esc(t.detail)}</code></p>` : '';
  return `<div class="traj"><div class="traj-head">${head}</div>${reward}${detail}\n${t.blocks.map(renderBlock).join('\n')}</div>`;
}

function renderBlock(b: ShownBlock): string {
  const mask = b.trained
    ? `<span class="badge trained">trained${b.tokens !== undefined ? `: ${b.tokens} tokens` : ''}</span>`
    : `<span class="badge masked">masked${b.tokens !== undefined ? `: ${b.tokens} tokens` : ''}, not trained</span>`;
  const status = b.status && b.status !== 'no_call' ? `<span class="badge status">${esc(b.status)}</span>` : '';
  const call = b.call ? `<div class="call">tool call <code>${esc(b.call.name)}</code><pre>${esc(b.call.input)}</pre></div>` : '';
  const text = b.text ? `<pre>${esc(b.text)}</pre>` : '<p class="absent">(empty)</p>';
  return `<div class="msg${b.trained ? '' : ' masked'}"><div class="who">${esc(b.role)}${mask}${status}</div>${text}${call}</div>`;
}
