// The embedded demos: each recipe under recipes/ and the generated data it reads. `npm run demo` runs the full one;
// the small one is the same recipe with a short GRPO stage, on the same data, for the learning test and the browser
// test (a few minutes).
import type { DemoSizes } from './generate.ts';
import { DEFAULT_DEMO_SIZES } from './generate.ts';

export interface DemoRun {
  /** recipes/<name>.yaml */
  recipe: string;
  /** The data directory under the state dir, as the recipe's paths spell it. */
  dataDir: string;
  seed: number;
  sizes: DemoSizes;
}

export const DEMOS = {
  full: { recipe: 'recipes/demo-full.yaml', dataDir: 'demo-full-data', seed: 1, sizes: DEFAULT_DEMO_SIZES },
  small: { recipe: 'recipes/demo-small.yaml', dataDir: 'demo-full-data', seed: 1, sizes: DEFAULT_DEMO_SIZES },
} as const satisfies Record<string, DemoRun>;
export type DemoName = keyof typeof DEMOS;
