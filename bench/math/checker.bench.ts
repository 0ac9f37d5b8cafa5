// Math checker throughput on the fixture verdicts (test/fixtures/math, warm), against baselines measured in the same run:
//   strict     - Open-AgentRL's exact \boxed{} string match (the cheapest possible outcome)
//   raw-ce     - compute-engine's own isEqual on the extracted, unnormalised answers (no glue, no time-out)
//   sync       - verifyMathSync on the calling thread (the full checker without the hard time-out)
//   worker     - MathChecker: the same checks in a worker thread with a hard time-out (what mathOutcome uses)
// Run: node --import tsx bench/math/checker.bench.ts [passes]
import { ComputeEngine } from '@cortex-js/compute-engine';
import { MathChecker } from '../../rewards/math/checker.ts';
import { extractAnswer } from '../../rewards/math/extract.ts';
import { strictBoxedMatch } from '../../rewards/math/strict.ts';
import { verifyMathSync } from '../../rewards/math/verifySync.ts';
import { loadMathPairs, TARGETS, type MathPair } from '../../test/fixtures/math-pairs.ts';

type Pair = MathPair;
const pairs = loadMathPairs();
const passes = Number(process.argv[2] ?? 10);
if (!Number.isInteger(passes) || passes < 1) throw new Error(`passes must be a positive integer, got ${process.argv[2]}`);

interface Result {
  name: string;
  checksPerSecond: number;
  agree: number;
}

async function measure(name: string, check: (p: Pair) => boolean | Promise<boolean>): Promise<Result> {
  let agree = 0;
  for (const p of pairs) if ((await check(p)) === p.expected) agree++; // warm-up pass, also the agreement count
  const start = performance.now();
  for (let i = 0; i < passes; i++) for (const p of pairs) await check(p);
  const seconds = (performance.now() - start) / 1000;
  return { name, checksPerSecond: (passes * pairs.length) / seconds, agree };
}

const strictGold = (p: Pair): string => extractAnswer(p.gold, { targets: TARGETS[p.extraction] })?.text ?? p.gold;
const ce = new ComputeEngine();
const checker = new MathChecker();
const results: Result[] = [];
results.push(await measure('strict (baseline)', (p) => strictBoxedMatch(p.pred, strictGold(p)).score === 1));
results.push(
  await measure('raw compute-engine isEqual', (p) => {
    const g = strictGold(p);
    const a = extractAnswer(p.pred, { targets: TARGETS[p.extraction] })?.text;
    if (a === undefined) return false;
    return ce.parse(g).isEqual(ce.parse(a)) === true;
  }),
);
results.push(await measure('verifyMathSync (in thread)', (p) => verifyMathSync(p.gold, p.pred, { targets: TARGETS[p.extraction] }).equal));
results.push(await measure('MathChecker (worker, hard time-out)', async (p) => (await checker.verify(p.gold, p.pred, { targets: TARGETS[p.extraction] })).equal));
await checker.close();

const base = results[0].checksPerSecond;
const sync = results[2].checksPerSecond;
console.log(`math checker bench: ${pairs.length} pairs x ${passes} passes (warm), node ${process.version}`);
console.log('| checker | checks/s | vs strict | vs in-thread | agreement |');
console.log('|---|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.name} | ${r.checksPerSecond.toFixed(0)} | ${(r.checksPerSecond / base).toFixed(4)}x | ${(r.checksPerSecond / sync).toFixed(2)}x | ${r.agree}/${pairs.length} |`,
  );
}
