// The demo recipe (recipes/demo-full.yaml): it passes the recipe schema with all three stages, its GRPO settings
// are consistent, and its files are the ones the demo generator and model builder write.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DEMO_SIZES, SOURCE_FILES } from '../../datasets/demo/index.ts';
import { grpoSectionSchema, optimizerStepsPerRlStep } from '../../schemas/grpo.ts';
import { parseRecipe } from '../../schemas/recipe.ts';

const FILE = 'recipes/demo-full.yaml';
const DATA = '.state/demo-full-data';
const raw = parseYaml(readFileSync(FILE, 'utf8')) as Record<string, any>;
const base = dirname(resolve(FILE));
const fromRoot = (p: string): string => relative(process.cwd(), resolve(base, p));

describe('recipes/demo-full.yaml', () => {
  it('passes the recipe schema and runs balance -> sft -> grpo', () => {
    const recipe = parseRecipe({ base_dir: base, ...raw }, FILE);
    assert.equal(recipe.until, 'grpo');
    const g = grpoSectionSchema.parse(raw.grpo);
    assert.ok(optimizerStepsPerRlStep(g) >= 1);
    assert.ok(g.reward.overlong.buffer < g.max_response_length);
  });

  it('reads the files the demo generator writes and the demo model directory', () => {
    const sources = raw.balance.sources as { name: keyof typeof SOURCE_FILES; format: string; files: string[] }[];
    assert.deepEqual(sources.map((s) => s.name).sort(), Object.keys(SOURCE_FILES).sort());
    for (const s of sources) {
      assert.equal(s.format, SOURCE_FILES[s.name].format);
      const pattern = new RegExp(`^${fromRoot(s.files[0]).replace(/[.]/gu, '\\.').replace(/\*/gu, '[^/]*')}$`, 'u');
      assert.match(join(DATA, SOURCE_FILES[s.name].file), pattern, s.name);
    }
    assert.ok(raw.balance.per_source <= DEFAULT_DEMO_SIZES.rlPerSource, 'the balance stage must not run short');
    assert.deepEqual(raw.sft.data.files.map(fromRoot), [join(DATA, 'sft/train.parquet')]);
    assert.equal(fromRoot(raw.model.path), 'recipes/models/demo');
  });
});
