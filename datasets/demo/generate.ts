// Writes the embedded demo's data, deterministically from a seed and without network:
//   <dir>/<source files>        the five balance sources (balance-files.ts), the RL pool
//   <dir>/sft/train.parquet     SFT traces in the card's layout (sft-parquet.ts)
//   <dir>/sft/val.parquet       held-out traces of the same families (their user turns are the validation prompts)
// The three splits draw from separate seeded streams and never share a problem.
// CLI: node --import tsx datasets/demo/generate.ts --out DIR [--seed N]
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../engine/rng.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';
import { writeBalanceFiles } from './balance-files.ts';
import { DEMO_SOURCES, drawProblems } from './families.ts';
import type { DemoProblem, DemoSource } from './families.ts';
import { sftParquetBytes } from './sft-parquet.ts';
import type { SftRow } from './sft-parquet.ts';
import { sftMessages } from './traces.ts';

export interface DemoSizes {
  /** Balance-source rows per source (the RL pool the balance stage samples from). */
  rlPerSource: number;
  sftTrainPerSource: number;
  sftValPerSource: number;
}

export const DEFAULT_DEMO_SIZES: DemoSizes = { rlPerSource: 96, sftTrainPerSource: 600, sftValPerSource: 16 };

export interface DemoSplits {
  rl: Record<DemoSource, DemoProblem[]>;
  train: DemoProblem[];
  val: DemoProblem[];
}

/** The problems of every split; train, val and the RL pool are pairwise disjoint. */
export function demoSplits(seed: number, sizes: DemoSizes = DEFAULT_DEMO_SIZES): DemoSplits {
  const seen = new Set<string>();
  const draw = (split: string, source: DemoSource, n: number): DemoProblem[] => drawProblems(Rng.fromSeed(seed, `demo ${split} ${source}`), source, n, seen);
  // Validation first: held-out problems are fixed by (seed, source) alone, whatever the training sizes.
  const val = DEMO_SOURCES.flatMap((s) => draw('val', s, sizes.sftValPerSource));
  const train = DEMO_SOURCES.flatMap((s) => draw('train', s, sizes.sftTrainPerSource));
  const rl = Object.fromEntries(DEMO_SOURCES.map((s) => [s, draw('rl', s, sizes.rlPerSource)])) as Record<DemoSource, DemoProblem[]>;
  return { rl, train, val };
}

function sftRows(split: string, problems: DemoProblem[]): SftRow[] {
  return problems.map((p, i) => ({ id: `${split}-${p.family}-${i}`, messages: sftMessages(p, i) }));
}

export interface DemoData {
  dir: string;
  /** Balance source configs, file paths relative to `dir`. */
  sources: SourceConfig[];
  sftTrain: string;
  sftVal: string;
  splits: DemoSplits;
}

export async function writeDemoData(dir: string, opts: { seed?: number; sizes?: DemoSizes } = {}): Promise<DemoData> {
  const splits = demoSplits(opts.seed ?? 1, opts.sizes ?? DEFAULT_DEMO_SIZES);
  const sources = await writeBalanceFiles(dir, splits.rl);
  await mkdir(join(dir, 'sft'), { recursive: true });
  const sftTrain = join(dir, 'sft/train.parquet');
  const sftVal = join(dir, 'sft/val.parquet');
  await writeFile(sftTrain, sftParquetBytes(sftRows('train', splits.train)));
  await writeFile(sftVal, sftParquetBytes(sftRows('val', splits.val)));
  return { dir, sources, sftTrain, sftVal, splits };
}

/** sha256 over this folder's sources: the data changes when the generator does. */
async function generatorDigest(): Promise<string> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const files = (await readdir(dir)).filter((f) => f.endsWith('.ts')).sort();
  const h = createHash('sha256');
  for (const f of files) h.update(f).update('\u0000').update(await readFile(join(dir, f))).update('\u0000');
  return h.digest('hex');
}

/**
 * Generates the demo data into `dir` unless it already holds the data of these options: a `.complete` file, written
 * last, records the seed, the sizes and the generator's source digest, so an interrupted, differently sized or
 * older generation is written again from scratch rather than reused.
 */
export async function ensureDemoData(dir: string, opts: { seed?: number; sizes?: DemoSizes } = {}): Promise<{ generated: boolean }> {
  const stamp = `${JSON.stringify({ seed: opts.seed ?? 1, sizes: opts.sizes ?? DEFAULT_DEMO_SIZES, generator: await generatorDigest() })}\n`;
  const marker = join(dir, '.complete');
  if ((await readFile(marker, 'utf8').catch(() => '')) === stamp) return { generated: false };
  await rm(dir, { recursive: true, force: true });
  await writeDemoData(dir, opts);
  await writeFile(marker, stamp);
  return { generated: true };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = opt('--out');
  const seed = Number(opt('--seed') ?? 1);
  if (!out || !Number.isInteger(seed)) {
    console.error('usage: node --import tsx datasets/demo/generate.ts --out DIR [--seed N]');
    process.exit(2);
  }
  const data = await writeDemoData(out, { seed });
  console.log(`wrote ${data.sources.length} balance sources, ${data.splits.train.length} SFT traces and ${data.splits.val.length} held-out traces under ${out}`);
}
