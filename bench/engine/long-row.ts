// One long row through a train step, in each form of the fused attention: the whole layer's probabilities kept
// for the backward ('causal'), recomputed per layer ('causal-recompute'), and query blocks ('causal-blocked-N',
// what the learner picks for one row of 768 tokens or more). Tiny demo model, SFT loss on every token, 2 threads.
// Each (length, form) runs in a process of its own, so that its peak RSS is its own; the ratios are taken
// against the whole-layer form of the same length in the same invocation.
//
//   node --import tsx bench/engine/long-row.ts [--lengths 1024,2048,4096,8192] [--steps 5]
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseQwen3Config } from '../../engine/config.ts';
import { initWeights } from '../../engine/init.ts';
import { Learner } from '../../engine/learner.ts';
import type { LearnerOptions } from '../../engine/learner.ts';
import { withDeviceMalloc } from '../../engine/runtime/malloc.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const flag = (name: string, fallback: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};

const FORMS: Record<string, LearnerOptions> = {
  whole: { attention: 'whole-layer', attentionMemory: Number.MAX_SAFE_INTEGER },
  recompute: { attention: 'whole-layer', attentionMemory: 1 },
  blocked: {},
};

interface Measured {
  kind: string;
  median_ms: number;
  peak_rss_mib: number;
}

/** The child: one form at one length; prints one JSON line. */
async function child(form: string, length: number, steps: number): Promise<void> {
  const cfg = parseQwen3Config(JSON.parse(readFileSync(`${ROOT}recipes/models/tiny/config.json`, 'utf8')));
  const learner = await Learner.create(cfg, initWeights(cfg, 0), { ...FORMS[form], deviceOptions: { threads: 2 } });
  const ids = [Array.from({ length }, (_, t) => (t * 7919) % cfg.vocabSize)];
  const micro = { inputIds: ids, lossMask: [ids[0].map((_, t) => (t < length - 1 ? 1 : 0))] };
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t = performance.now();
    await learner.trainStep([micro], { kind: 'sft' }, 1e-5);
    if (i > 0) times.push(performance.now() - t); // the first step builds and loads the program
  }
  times.sort((a, b) => a - b);
  const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
  const out: Measured = { kind: learner.attentionFor(micro), median_ms: times[times.length >> 1], peak_rss_mib: hwm };
  await learner.close();
  console.log(JSON.stringify(out));
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
} else {
  const lengths = flag('lengths', '1024,2048,4096,8192').split(',').map(Number);
  const steps = Number(flag('steps', '5'));
  console.log('| tokens (one row) | form | kind | step ms (median) | peak RSS MiB | time / whole | memory / whole |');
  console.log('|---:|---|---|---:|---:|---:|---:|');
  for (const length of lengths) {
    const runs = Object.keys(FORMS).map((form) => {
      const r = spawnSync(process.execPath, [...process.execArgv, new URL(import.meta.url).pathname, '--child', form, String(length), String(steps)], { env: withDeviceMalloc(), encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`long-row: ${form} at ${length} tokens failed: ${r.stderr}`);
      return { form, ...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Measured) };
    });
    const whole = runs[0];
    for (const r of runs) {
      console.log(`| ${length} | ${r.form} | ${r.kind} | ${r.median_ms.toFixed(0)} | ${r.peak_rss_mib.toFixed(0)} | ${(r.median_ms / whole.median_ms).toFixed(2)} | ${(r.peak_rss_mib / whole.peak_rss_mib).toFixed(2)} |`);
    }
  }
}
