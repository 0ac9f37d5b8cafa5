// `npm run demo [-- --small]`: generate the demo's data (once: the task families' balance sources and SFT traces, no
// network), then run the whole recipe, balance -> SFT -> GRPO-TCR, on the embedded Temporal dev server with an
// in-process worker, and say where everything is (the run report last). --small runs the scaled-down recipe that
// the learning test runs.
import { join } from 'node:path';
import { DEMOS, ensureDemoData } from '../datasets/demo/index.ts';
import { main } from './cli.ts';
import { PROJECT_ROOT, stateDir } from './paths.ts';

const demo = process.argv.includes('--small') ? DEMOS.small : DEMOS.full;
const dataDir = join(stateDir(), demo.dataDir);
console.log(`[demo] demo data: ${dataDir}`);
const { generated } = await ensureDemoData(dataDir, { seed: demo.seed, sizes: demo.sizes });
if (generated) console.log('[demo] generated the demo data');
const code = await main(['run', join(PROJECT_ROOT, demo.recipe)]);
if (code === 0) {
  console.log('\nNext:');
  console.log('  npm run agentrl -- server        # serves the Web UI at http://127.0.0.1:8233 over the same state');
  console.log('  npm run agentrl -- report <run-id> # rewrites runs/<run-id>/report.html');
  console.log('  npm run agentrl -- audit <run-id> --stage grpo');
}
process.exit(code);
