// Balance-stage benchmark: generates the five sources at their real row counts (once, cached under bench/out),
// then runs our stage (bench/balance/stage.ts) and the pandas + pyarrow baseline (baseline.py) in the same
// invocation, each under /usr/bin/time -v for wall time and peak RSS, checks both selected the same rows, and
// prints a markdown table with the ratios.
// Usage: node --import tsx bench/balance/run.ts [--runs N]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { writeBalanceSources } from '../../test/fixtures/balance-sources.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const OUT = `${ROOT}/bench/out/balance`;
const SRC = `${OUT}/src`;
const PY = `${ROOT}/.tools/py/bin/python`;
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 1) || 1;

function ensurePython(): void {
  if (existsSync(PY)) return;
  // Fixture scripts and baselines own their venv (infra/requirements-py.txt); nothing at run time needs it.
  execFileSync('python3', ['-m', 'venv', `${ROOT}/.tools/py`], { stdio: 'inherit' });
  execFileSync(`${ROOT}/.tools/py/bin/pip`, ['install', '-r', `${ROOT}/infra/requirements-py.txt`], { stdio: 'inherit' });
}

interface Measured {
  wall_s: number;
  peak_rss_mib: number;
  report: Record<string, unknown>;
}

function timed(cmd: string, args: string[]): Measured {
  const r = spawnSync('/usr/bin/time', ['-v', cmd, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/u.exec(r.stderr);
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)/u.exec(r.stderr);
  if (!rss || !wall) throw new Error(`cannot parse /usr/bin/time output:\n${r.stderr}`);
  const lastLine = r.stdout.trim().split('\n').pop()!;
  return {
    wall_s: Number(wall[1] ?? 0) * 3600 + Number(wall[2]) * 60 + Number(wall[3]),
    peak_rss_mib: Number(rss[1]) / 1024,
    report: JSON.parse(lastLine) as Record<string, unknown>,
  };
}

async function uidsOf(path: string): Promise<string[]> {
  const buf = await readFile(path);
  const rows = (await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), compressors, columns: ['extra_info'] })) as { extra_info: { uid: string } }[];
  return rows.map((r) => r.extra_info.uid);
}

ensurePython();
const stamp = `${SRC}/.generated-bench-seed1`;
if (!existsSync(stamp)) {
  console.error('generating bench-scale sources (once) ...');
  await writeBalanceSources(SRC, { scale: 'bench', seed: 1 });
  await writeFile(stamp, 'ok\n');
}
const du = execFileSync('du', ['-sm', SRC], { encoding: 'utf8' }).split('\t')[0];

const results: { ours: Measured; base: Measured; oursSerial: Measured }[] = [];
for (let i = 0; i < runs; i++) {
  // Alternate the order so neither side always runs on a warmer page cache.
  const base = i % 2 ? null : timed(PY, ['bench/balance/baseline.py', SRC, `${OUT}/baseline`]);
  const ours = timed(process.execPath, ['--import', 'tsx', 'bench/balance/stage.ts', SRC, `${OUT}/ours`]);
  const oursSerial = timed(process.execPath, ['--import', 'tsx', 'bench/balance/stage.ts', SRC, `${OUT}/ours-serial`, '--serial']);
  results.push({ ours, oursSerial, base: base ?? timed(PY, ['bench/balance/baseline.py', SRC, `${OUT}/baseline`]) });
}
const same = JSON.stringify(await uidsOf(`${OUT}/ours/out/rl.parquet`)) === JSON.stringify(await uidsOf(`${OUT}/baseline/rl.parquet`));

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const row = (name: string, pick: (r: (typeof results)[number]) => Measured): string => {
  const wall = med(results.map((r) => pick(r).wall_s));
  const rss = med(results.map((r) => pick(r).peak_rss_mib));
  const bw = med(results.map((r) => r.base.wall_s));
  const br = med(results.map((r) => r.base.peak_rss_mib));
  return `| ${name} | ${wall.toFixed(1)} | ${(bw / wall).toFixed(2)}x | ${rss.toFixed(0)} | ${(rss / br).toFixed(2)} |`;
};
console.log(`sources: ${du} MiB on disk; runs: ${runs}; same 2,000 selected uids in the same order as the baseline: ${same}`);
console.log('| run | wall s | speed-up vs baseline | peak RSS MiB | RSS / baseline |');
console.log('|---|---|---|---|---|');
console.log(row('pandas + pyarrow baseline', (r) => r.base));
console.log(row('agentrl, ingests in parallel (as the workflow runs them)', (r) => r.ours));
console.log(row('agentrl, ingests one after another', (r) => r.oursSerial));
console.log('\nphases (last run, seconds):');
for (const [name, m] of [['baseline', results.at(-1)!.base], ['agentrl parallel', results.at(-1)!.ours], ['agentrl serial', results.at(-1)!.oursSerial]] as const) {
  const { ingest_s, select_s, write_s } = m.report as Record<string, number>;
  console.log(`  ${name}: ingest ${ingest_s.toFixed(1)}, select ${select_s.toFixed(1)}, write ${write_s.toFixed(1)}`);
}
if (!same) process.exitCode = 1;
