// Reads a recipe file (YAML or JSON) and validates it, so a bad field is reported before anything starts.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseRecipe, type Recipe, RecipeError } from '../schemas/recipe.ts';

export function loadRecipeFile(path: string, overrides: Partial<Pick<Recipe, 'until' | 'run_id' | 'output_dir'>> = {}): Recipe {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RecipeError([{ path: '', message: `cannot read file: ${(err as Error).message}` }], file);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RecipeError([{ path: '', message: `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}` }], file);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new RecipeError([{ path: '', message: 'a recipe is a mapping of fields' }], file);
  }
  const withBase = { base_dir: dirname(file), ...(raw as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) (withBase as Record<string, unknown>)[k] = v;
  return parseRecipe(withBase, file);
}
