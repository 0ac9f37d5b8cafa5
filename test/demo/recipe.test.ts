// The demo recipes (recipes/demo-full.yaml, recipes/demo-small.yaml): each passes the recipe schema with all three
// stages, its GRPO settings are consistent, and its files are the ones the demo generator and model builder write;
// the small demo is the full one with a shorter GRPO stage.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_DEMO_SIZES, DEMOS, SOURCE_FILES } from '../../datasets/demo/index.ts';
import { grpoSectionSchema, optimizerStepsPerRlStep } from '../../schemas/grpo.ts';
import { parseRecipe } from '../../schemas/recipe.ts';

const DATA = '.state/demo-full-data';
const read = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Record<string, any>;

for (const demo of Object.values(DEMOS)) describe(demo.recipe, () => {
  const FILE = demo.recipe;
  const raw = read(FILE);
  const base = dirname(resolve(FILE));
  const fromRoot = (p: string): string => relative(process.cwd(), resolve(base, p));

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
    assert.equal(join('.state', demo.dataDir), DATA);
  });
});

it('the small demo is the full demo with a shorter GRPO stage', () => {
  const full = read(DEMOS.full.recipe);
  const small = read(DEMOS.small.recipe);
  assert.deepEqual({ ...small.balance }, { ...full.balance });
  assert.deepEqual(small.model, full.model);
  assert.deepEqual(small.sft, full.sft);
  const { total_steps: steps, validation, save_every_steps: _s, ...rest } = small.grpo;
  const { validation: fullValidation, save_every_steps: _f, ...fullRest } = full.grpo;
  assert.deepEqual(rest, fullRest);
  assert.ok(steps > 0 && validation.every_steps <= steps);
  assert.deepEqual({ ...validation, every_steps: 0 }, { ...fullValidation, every_steps: 0 });
});
