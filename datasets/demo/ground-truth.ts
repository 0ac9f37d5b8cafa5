// A demo problem's reward_model.ground_truth as the balance stage writes it (schemas/ground-truth.ts): the math
// answer, or the code tests in TACO's or the tagged LeetCode layout. Used to score held-out problems the same
// way GRPO scores RL rows.
import type { DemoProblem } from './families.ts';
import { LEETCODE_PROMPT } from './balance-files.ts';

export function demoGroundTruth(p: DemoProblem): string {
  if (p.kind === 'math') return p.answer;
  const t = p.tests;
  if (t.kind === 'taco_stdin') return JSON.stringify({ inputs: t.inputs, outputs: t.outputs });
  if (t.kind === 'taco_call') return JSON.stringify({ inputs: t.inputs, outputs: t.outputs, fn_name: t.fnName });
  return JSON.stringify({ kind: 'leetcode', prompt: LEETCODE_PROMPT, test: t.test, entry_point: t.entryPoint });
}

/** The verl `ability` of a problem. */
export const abilityOf = (p: DemoProblem): 'math' | 'code' => p.kind;
