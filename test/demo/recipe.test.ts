// The demo recipe draft (recipes/demo-full.yaml): its balance, model and sft sections pass the recipe schema, its
// grpo section passes the GRPO section schema, and its files are the ones the demo generator and model builder
// write. While the GRPO stage is not wired into the recipe, the pipeline schema is checked without that section.
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
  it('passes the recipe schema (balance, model, sft) and the grpo section schema', () => {
    const { grpo, ...rest } = raw;
    const recipe = parseRecipe({ base_dir: base, ...rest }, FILE);
    assert.equal(recipe.until, 'sft');
    const g = grpoSectionSchema.parse(grpo);
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
