// The JSON a Web UI user pastes into Start Workflow for a recipe file. The workflow takes the recipe as one JSON
// object; the YAML's fields go in as they are, and base_dir names the recipe's folder relative to the worker's
// working directory (the repository root for `npm run agentrl -- worker`), so the worker resolves every relative
// path exactly as `agentrl run <file>` does (which sets base_dir to the file's folder) and the run's recipe hash,
// which leaves base_dir out, is the CLI's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from '../../infra/paths.ts';

export function uiStartInput(recipeFile: string): Record<string, unknown> {
  const raw = parseYaml(readFileSync(recipeFile, 'utf8')) as Record<string, unknown>;
  return { base_dir: relative(PROJECT_ROOT, dirname(resolve(recipeFile))) || '.', ...raw };
}

/** The README's Start Workflow input (the block after `<!-- ui-start-input -->`) and the task queue it names. */
export function readmeStartInput(): { input: Record<string, unknown>; taskQueue: string } {
  const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const block = /<!-- ui-start-input -->\s*```json\n([\s\S]*?)```/.exec(readme);
  const queue = /task queue `([^`]+)`/.exec(readme);
  assert.ok(block && queue, 'README shows the Start Workflow input and names the task queue');
  return { input: JSON.parse(block[1]) as Record<string, unknown>, taskQueue: queue[1] };
}

/** JSON laid out for the README: a value that fits in `width` columns on one line, else one entry per line. */
export function readmeJson(v: unknown, indent = '', width = 100): string {
  const one = JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ').replace(/\[ /g, '[').replace(/ \]/g, ']');
  if (v === null || typeof v !== 'object' || one.length + indent.length <= width) return one;
  const inner = `${indent}  `;
  const entries = Array.isArray(v) ? v.map((x) => readmeJson(x, inner, width)) : Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}: ${readmeJson(x, inner, width)}`);
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  return `${open}\n${entries.map((e) => inner + e).join(',\n')}\n${indent}${close}`;
}

// `node --import tsx test/browser/ui-input.ts recipes/demo-full.yaml` prints the README's block for a recipe.
if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) console.log(readmeJson(uiStartInput(process.argv[2])));
