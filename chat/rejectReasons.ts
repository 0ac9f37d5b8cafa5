// The fixed reasons a conversation cannot be trained on. They are categories, not messages: the SFT stage
// counts rejects by reason in its audit, so the location (message index, field) goes into a separate detail.
// docs/chat-protocol.md lists them with what triggers each.

export const REJECT_REASONS = {
  notJson: 'line is not valid JSON',
  notObject: 'row is not an object',
  noMessages: 'no messages',
  malformedMessage: 'malformed message',
  rolesOutOfOrder: 'roles out of order',
  toolResultWithoutCall: 'tool result with no call',
  malformedToolCall: 'malformed tool call',
  unparseableArguments: 'unparseable tool-call arguments',
  malformedTools: 'malformed tools list',
  noAssistantTurn: 'no assistant turn',
  templateError: 'template cannot render the conversation',
  notContinuation: 'assistant turn does not continue its generation prompt',
  turnsNotFound: 'assistant turns not found in the rendering',
  emptyAfterTruncation: 'empty after truncation',
} as const;

export type RejectReason = (typeof REJECT_REASONS)[keyof typeof REJECT_REASONS];
