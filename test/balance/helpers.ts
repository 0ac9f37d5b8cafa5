// Shared setup for the balance tests: fixtures generated once per test file into a temp folder, and small
// readers for checking outputs independently of the code under test (hyparquet for parquet).
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import type { Table } from 'apache-arrow';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { writeBalanceSources } from '../fixtures/balance-sources.ts';
import type { BalanceFixture } from '../fixtures/balance-sources.ts';
import type { SourceConfig } from '../../schemas/recipe.ts';

export const PRIORITY = ['omni_math', 'numina_math', 'deepscaler', 'leetcode_code', 'taco_code'];

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `agentrl-balance-${tag}-`));
}

export async function makeFixture(seed = 1): Promise<BalanceFixture> {
  return writeBalanceSources(await tempDir('src'), { scale: 'test', seed });
}

export function sourceNamed(f: BalanceFixture, name: string): SourceConfig {
  const s = f.sources.find((x) => x.name === name);
  if (!s) throw new Error(`no fixture source ${name}`);
  return s;
}

export async function readArrowFile(path: string): Promise<Table> {
  return tableFromIPC(await readFile(path));
}

export async function readParquetRows(path: string): Promise<Record<string, unknown>[]> {
  const buf = await readFile(path);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return (await parquetReadObjects({ file, compressors })) as Record<string, unknown>[];
}

export async function parquetSchemaPaths(path: string): Promise<string[]> {
  const buf = await readFile(path);
  const meta = parquetMetadata(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  // Rebuild dotted paths from the flattened schema (num_children tells where each group ends).
  const out: string[] = [];
  const stack: { name: string; left: number }[] = [];
  for (const el of meta.schema.slice(1)) {
    while (stack.length && stack[stack.length - 1].left === 0) stack.pop();
    if (stack.length) stack[stack.length - 1].left--;
    const path = [...stack.map((s) => s.name), el.name].join('.');
    out.push(path);
    if (el.num_children) stack.push({ name: el.name, left: el.num_children });
  }
  return out;
}
