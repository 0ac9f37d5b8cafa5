// The SFT conversation of a demo problem, as the card's traces have it: the user turn carries the RL prompt
// (the balance stage's default template around the problem), the assistant calls code_interpreter with a short
// program, the tool turn holds what the program printed, and the assistant finishes with \boxed{answer} (math)
// or the solution in one ```python block (code). Besides these, the SFT set has "guessed" traces of the
// modular-arithmetic family (numina_math) that answer at once, without the tool, as a model that guesses would
// (generate.ts draws them): after SFT the demo model calls the tool on fewer than half of those problems, and what
// GRPO-TCR has to learn there is that calling it pays (a guessed remainder is rarely right).
import { balanceSchema } from '../../schemas/recipe.ts';
import { CODE_INTERPRETER_NAME } from '../../chat/types.ts';
import type { DemoProblem } from './families.ts';

/** The recipe's default prompt templates (balance.templates), read from the schema so there is one home. */
export const DEMO_TEMPLATES: { math: string; code: string } = balanceSchema.innerType().shape.templates.parse(undefined);

/**
 * The user prompt of a problem with the default templates. Must equal the balance stage's renderPrompt for the
 * same problem and starter code (test/demo checks it), so SFT prompts and RL prompts are the same text.
 */
export function demoPrompt(p: DemoProblem): string {
  const template = p.kind === 'math' ? DEMO_TEMPLATES.math : DEMO_TEMPLATES.code;
  const starter = p.kind === 'code' ? p.starterCode : null;
  const block = starter && starter.trim() !== '' ? `\`\`\`python\n${starter.replace(/\s+$/u, '')}\n\`\`\`\n` : '';
  return template.replace(/\{(problem|starter_code_block)\}/gu, (_m, name: string) => (name === 'problem' ? p.problem : block));
}

/** One message in the card's SFT layout (every key present; absent values are null, as parquet stores them). */
export interface SftMessage {
  role: 'user' | 'assistant' | 'tool';
  content: string;
  tool_calls: { id: string; type: 'function'; function: { name: string; arguments: { code: string; language: string } } }[] | null;
  tool_call_id: string | null;
}

/** The final assistant text: the answer read off the tool output, or the solution block. */
export function finalTurn(p: DemoProblem): string {
  if (p.kind === 'math') return `The program prints ${p.answer}, so the answer is \\boxed{${p.answer}}.`;
  return `The example gives ${p.output.trim()} as expected.\n\`\`\`python\n${p.solution}\n\`\`\``;
}

/** A guessed trace: the user turn and an answer given at once, without calling the tool. */
export function guessedMessages(p: DemoProblem): SftMessage[] {
  if (p.kind !== 'math') throw new Error(`demo: only math problems have guessed traces (${p.family})`);
  return [
    { role: 'user', content: demoPrompt(p), tool_calls: null, tool_call_id: null },
    { role: 'assistant', content: `The answer is \\boxed{${p.answer}}.`, tool_calls: null, tool_call_id: null },
  ];
}

export function sftMessages(p: DemoProblem, index: number): SftMessage[] {
  const id = `call_${index}`;
  return [
    { role: 'user', content: demoPrompt(p), tool_calls: null, tool_call_id: null },
    {
      role: 'assistant',
      content: '',
      tool_calls: [{ id, type: 'function', function: { name: CODE_INTERPRETER_NAME, arguments: { code: p.program, language: 'python' } } }],
      tool_call_id: null,
    },
    { role: 'tool', content: p.output, tool_calls: null, tool_call_id: id },
    { role: 'assistant', content: finalTurn(p), tool_calls: null, tool_call_id: null },
  ];
}
