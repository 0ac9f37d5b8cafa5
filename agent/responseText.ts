// The text the reward reads: the whole decoded response (generated turns and tool turns), special tokens skipped,
// as verl decodes it before calling the reward function (docs/grpo.md, "Rewards").
import type { ChatTokenizer } from '../chat/index.ts';

export function responseTextForReward(tok: ChatTokenizer, responseIds: readonly number[]): string {
  const special = new Set(tok.files.addedTokens.filter((t) => t.special).map((t) => t.id));
  return tok.decode(responseIds.filter((id) => !special.has(id)));
}
