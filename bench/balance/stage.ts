// One run of the balance stage's data work on a source folder, the way the workflow runs it: the five ingests
// in parallel (each in its worker thread), then dedupe + sample, then the RL dataset and the rejects table.
// Usage: node --import tsx bench/balance/stage.ts SRC_DIR WORK_DIR [--serial] [--lanes N]
import { rm } from 'node:fs/promises';
import { ingestSource, selectBalanced, writeRejectsTable, writeRlDataset } from '../../datasets/balance/index.ts';
import { fixtureSources } from '../../test/fixtures/balance-sources.ts';

const [src, work, ...flags] = process.argv.slice(2);
const serial = flags.includes('--serial');
const lanesAt = flags.indexOf('--lanes');
const lanes = lanesAt >= 0 ? Number(flags[lanesAt + 1]) : undefined;
if (!src || !work) {
  console.error('usage: node --import tsx bench/balance/stage.ts SRC_DIR WORK_DIR [--serial] [--lanes N]');
  process.exit(2);
}
await rm(work, { recursive: true, force: true });
const t0 = performance.now();
const sources = fixtureSources().map((s) => ({ ...s, filters: { ...s.filters, max_test_bytes: 64 << 20 } }));
const ingested = [];
if (serial) for (const s of sources) ingested.push(await ingestSource({ source: s, baseDir: src, workDir: work, lanes }));
else ingested.push(...(await Promise.all(sources.map((s) => ingestSource({ source: s, baseDir: src, workDir: work, lanes })))));
const t1 = performance.now();
const sel = await selectBalanced({
  inputs: ingested.map((r) => ({ source: r.source, candidates: r.candidates, take: 400 })),
  seed: 1,
  priority: ['omni_math', 'numina_math', 'deepscaler', 'leetcode_code', 'taco_code'],
  shortfall: 'error',
  workDir: work,
});
const t2 = performance.now();
const templates = { math: '{problem}\n\nGive the final answer as \\boxed{answer}.', code: '{problem}\n\n{starter_code_block}Write a complete Python 3 solution.' };
const rl = await writeRlDataset({ selected: sel.selected, templates, agentName: 'tool_agent', split: 'train', outDir: `${work}/out` });
const rej = await writeRejectsTable({ rejects: [...ingested.map((r) => r.rejects), sel.rejects], outDir: `${work}/out` });
const t3 = performance.now();
console.log(
  JSON.stringify({
    ingest_s: (t1 - t0) / 1000,
    select_s: (t2 - t1) / 1000,
    write_s: (t3 - t2) / 1000,
    total_s: (t3 - t0) / 1000,
    read: Object.fromEntries(ingested.map((r) => [r.source, r.counts.read])),
    eligible: Object.fromEntries(Object.entries(sel.counts).map(([k, c]) => [k, c.eligible])),
    rl_rows: rl.parquet.rows,
    rejects_rows: rej.rows,
  }),
);
