// The run report on a real balance run's files, then with the SFT and GRPO stage files added (metrics written by
// pyarrow, a trajectory record in the GRPO layout): what a reader relies on is in the page, the page is
// self-contained and deterministic, and a corrupt input is named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { asyncBufferFromFile, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { sha256File } from '../../core/digest.ts';
import { PROJECT_ROOT } from '../../infra/paths.ts';
import { writeStageAudit } from '../../activities/stage.ts';
import { formatNumber } from '../../report/html.ts';
import { renderRunReport, readRun, writeRunReport } from '../../report/index.ts';
import type { StageAudit } from '../../schemas/stage.ts';
import { addTrainingStages, balanceRun, FIXTURES } from './support.ts';

let runDir: string;
let audit: StageAudit;
let balanceOnly: string;

before(async () => {
  runDir = await balanceRun('report-run');
  audit = JSON.parse(readFileSync(join(runDir, 'balance', 'audit.json'), 'utf8')) as StageAudit;
  balanceOnly = readFileSync((await writeRunReport(runDir)).path, 'utf8');
  addTrainingStages(runDir);
});

const svgs = (html: string): string[] => html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];

/** Numeric column names of a parquet file, read by hyparquet (an independent reader). */
async function numericColumns(path: string): Promise<string[]> {
  const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(path), compressors })) as Record<string, unknown>[];
  const names = Object.keys(rows[0]);
  return names.filter((n) => rows.some((r) => typeof r[n] === 'number' || typeof r[n] === 'bigint'));
}

function assertSelfContained(html: string): void {
  assert.doesNotMatch(html, /<script/i, 'no script');
  assert.doesNotMatch(html, /<link\b/i, 'no linked style sheet or font');
  assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i, 'nothing loaded from elsewhere');
  assert.doesNotMatch(html, /@import|url\((?!#)/i, 'CSS loads nothing');
}

test('a balance-only run: per-source counts, rejects by reason and lineage come from its audit', async () => {
  assertSelfContained(balanceOnly);
  assert.match(balanceOnly, /Not in this run \(yet\): SFT cold start, GRPO-TCR/);
  for (const [source, c] of Object.entries(audit.counts)) {
    const rejected = Object.values(c.rejected).reduce((a, b) => a + b, 0);
    const row = new RegExp(`<td>${source}</td><td class="n">${c.read}</td><td class="n">${rejected}</td>`);
    assert.match(balanceOnly, row, `${source}: read and rejected counts`);
  }
  const reasons = new Set(Object.values(audit.counts).flatMap((c) => Object.keys(c.rejected)));
  assert.ok(reasons.size > 0, 'the generated sources plant rejects');
  for (const reason of reasons) {
    const total = Object.values(audit.counts).reduce((a, c) => a + (c.rejected[reason] ?? 0), 0);
    assert.match(balanceOnly, new RegExp(`<td>${reason}</td>(<td class="n">\\d+</td>)+<td class="n">${total}</td></tr>`), `reason ${reason}`);
  }
  // Lineage: every output with the sha256 of the file on disk and its rows; every input with its sha256.
  for (const [name, ref] of Object.entries(audit.outputs)) {
    assert.equal(await sha256File(ref.path), ref.sha256);
    assert.match(balanceOnly, new RegExp(`<td>output</td><td>${name}</td><td><code>balance/[^<]+</code></td><td class="n">${ref.rows}</td>`));
    assert.ok(balanceOnly.includes(ref.sha256), `${name} sha256`);
  }
  for (const files of Object.values(audit.inputs)) for (const f of files) assert.ok(balanceOnly.includes(f.sha256), `${f.path} sha256`);
  assert.ok(balanceOnly.includes(audit.recipeHash) && balanceOnly.includes(audit.codeVersion.version));
  assert.equal(svgs(balanceOnly).length, 1, 'the balance outcome chart');
  assert.match(svgs(balanceOnly)[0], /rejected: /);
});

test('with SFT and GRPO files: every numeric metric is plotted, in the known sections', async () => {
  const html = await renderRunReport(readRun(runDir));
  assertSelfContained(html);
  const figures = html.match(/<figure class="plot">[\s\S]*?<\/figure>/g) ?? [];
  assert.equal(figures.length, svgs(html).length, 'one SVG per figure');
  for (const svg of svgs(html)) assert.match(svg, /<path [^>]*d="M[^"]+"/, 'every plot draws marks');
  for (const [stage, file] of [['sft', 'sft_metrics.parquet'], ['grpo', 'grpo_metrics.parquet']] as const) {
    const names = (await numericColumns(join(FIXTURES, file))).filter((n) => n !== 'step');
    assert.ok(names.length >= 5);
    for (const name of names) assert.ok(html.includes(`>${name}</text>`), `${stage}: ${name} is plotted`);
  }
  assert.ok(!html.includes('>note</text>'), 'a string column is not plotted');
  const section = (title: string) => figures.find((f) => f.includes(`<figcaption>${title}`)) ?? '';
  for (const name of ['critic/score/mean', 'reward/outcome/mean', 'reward/tcr/mean', 'reward/overlong/mean']) {
    assert.ok(section('Reward mean').includes(`>${name}</text>`), `${name} in the reward chart`);
  }
  assert.ok(!section('Reward mean').includes('>critic/score/max</text>'), 'max goes to its prefix group');
  assert.ok(section('Validation accuracy').includes('>val-core/taco_code/acc/mean@4</text>'));
  assert.ok(section('Clip fractions').includes('>actor/pg_clipfrac_lower</text>'));
  assert.ok(section('Training loss').includes('>loss</text>'));
  // The first/last table: the SFT loss at its first and last step, as hyparquet reads them.
  const sft = (await parquetReadObjects({ file: await asyncBufferFromFile(join(FIXTURES, 'sft_metrics.parquet')), compressors })) as { step: bigint; loss: number }[];
  const [first, last] = [sft[0], sft[sft.length - 1]];
  assert.ok(last.loss < first.loss);
  const cells = [first.step, first.loss, last.step, last.loss, last.loss - first.loss].map((x) => `<td class="n">${formatNumber(Number(x))}</td>`).join('');
  assert.ok(html.includes(`<tr><td>loss</td>${cells}</tr>`), 'loss first and last values');
  assert.ok(section('Learning rate').includes('>lr</text>'));
});

test('trajectories: a handful of validation rollouts per step as conversations with their rewards', async () => {
  const html = await renderRunReport(readRun(runDir));
  const blocks = html.match(/<div class="traj">[\s\S]*?(?=<div class="traj">|<\/main>|<h4>)/g) ?? [];
  assert.equal(blocks.length, 8, 'steps 0 and 10, four each');
  assert.match(html, /\d+ rows in <code>step-000010-val\.arrow<\/code>/);
  assert.match(html, /<h4>Step 0: 4 validation rollouts<\/h4>/);
  assert.match(html, /<h4>Step 10: 4 validation rollouts<\/h4>/);
  for (const b of blocks) {
    assert.match(b, /tool call <code>code_interpreter<\/code><pre>print\(\d+ \* \d+\)<\/pre>/, 'the executed program');
    assert.match(b, /<div class="msg masked"><div class="who">tool<span class="badge masked">masked: 9 tokens, not trained/, 'tool output marked masked');
    assert.match(b, /<span class="badge trained">trained: 21 tokens<\/span>/);
    assert.match(b, /<th>outcome<\/th><th>outcome_correct<\/th><th>tcr<\/th><th>overlong<\/th><th>reward<\/th><th>advantage<\/th>/);
    // Validation rows have no advantage; the training rows (advantage +-0.7) are not the ones shown.
    assert.match(b, /<td>(1|-1)<\/td><td>(true|false)<\/td><td>(0|0\.1)<\/td><td>0<\/td><td>(1|-0\.9)<\/td><td>—<\/td>/);
  }
  assert.match(html, /<pre>391<\/pre>/, 'a tool output (17 * 23) is visible');
  const sources = blocks.map((b) => /<div class="traj-head">(\w+)/.exec(b)![1]);
  assert.deepEqual(sources.slice(0, 4), ['deepscaler', 'taco_code', 'deepscaler', 'taco_code'], 'sources in turn');
});

test('the same run directory gives byte-identical reports, whatever was rendered before', async () => {
  const a = await writeRunReport(runDir);
  const other = join(dirname(runDir), 'other-run');
  rmSync(other, { recursive: true, force: true });
  addTrainingStages(other);
  await writeRunReport(other); // renders more charts in this process first
  const b = await writeRunReport(runDir);
  assert.equal(b.sha256, a.sha256);
  assert.equal(b.sha256, await sha256File(join(runDir, 'report.html')));
  const ids = [...readFileSync(b.path, 'utf8').matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(new Set(ids).size, ids.length, 'element ids are unique in the page');
});

test('`agentrl report <run-id> --output-dir` prints the path; a corrupt metrics table is named', async () => {
  const cli = (runId: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'infra/cli.ts'), 'report', runId, '--output-dir', dirname(runDir)], { encoding: 'utf8' });
  const ok = cli('report-run');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), join(runDir, 'report.html'));

  const broken = join(dirname(runDir), 'broken-run');
  rmSync(broken, { recursive: true, force: true });
  addTrainingStages(broken);
  const metrics = join(broken, 'grpo', 'metrics.parquet');
  writeFileSync(metrics, readFileSync(metrics).subarray(0, 300));
  const bad = cli('broken-run');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`${metrics.replace(/[/.]/g, '\\$&')}: not a readable parquet table`));
  await assert.rejects(writeRunReport(broken), (err: Error) => err.name === 'BadInputError' && err.message.includes(metrics));

  const missing = cli('no-such-run');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /no-such-run: no such run directory/);
  copyFileSync(join(FIXTURES, 'grpo_metrics.parquet'), metrics);
});

test('a later stage audit, written by the stages\' own writer: lineage, the effective recipe, extra fields', async () => {
  const dir = join(dirname(runDir), 'audit-run');
  rmSync(dir, { recursive: true, force: true });
  addTrainingStages(dir);
  const metrics = join(dir, 'sft', 'metrics.parquet');
  const sha = await sha256File(metrics);
  const record = {
    outDir: join(dir, 'sft'),
    stage: 'sft',
    runId: 'audit-run',
    workflowId: 'audit-run.sft',
    recipeName: 'demo',
    recipeHash: 'f'.repeat(64),
    seed: 7,
    codeVersion: audit.codeVersion,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:10:00.000Z',
    inputs: { sft_data: [{ path: join(FIXTURES, 'sft_metrics.parquet'), sha256: await sha256File(join(FIXTURES, 'sft_metrics.parquet')), bytes: 1 }] },
    counts: {},
    outputs: { metrics: { path: metrics, sha256: sha, rows: 30, bytes: 1, format: 'parquet' as const } },
    timings: [{ step: 'train', startedAt: '2026-01-01T00:00:00.000Z', ms: 600000 }],
    recipe: { name: 'demo', sft: { epochs: 3 } },
    evaluation: { tool_call_rate_after: 0.85 },
  };
  await writeStageAudit(record);
  const html = await renderRunReport(readRun(dir));
  assert.match(html, new RegExp(`<td>output</td><td>metrics</td><td><code>sft/metrics.parquet</code></td><td class="n">30</td><td class="n">1</td><td><code>${sha}</code>`));
  assert.match(html, /<td>input<\/td><td>sft_data<\/td>/);
  assert.match(html, /Effective recipe \(defaults filled\), from the sft audit/);
  assert.match(html, /&quot;epochs&quot;: 3/);
  assert.match(html, /sft: other audit fields[\s\S]*tool_call_rate_after/);
  assert.doesNotMatch(html, /No audit record yet: the stage has not finished\.[\s\S]*<h2 id="grpo">/, 'sft has its audit');
  assert.match(html, /<h2 id="grpo">GRPO-TCR<\/h2>\s*<p class="note">No audit record yet/);
});
