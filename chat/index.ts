// Public API of the chat layer (tokenizers, chat templates, loss masks, rollout assembly, tool calls).
export { ChatTokenizer, loadChatModel } from './chatTokenizer.ts';
export type { RenderOptions } from './chatTokenizer.ts';
export { encodeConversation, encodeConversationSamples, UnusableConversationError, DEFAULT_MULTI_TURN, MULTI_TURN_MODES } from './lossMask.ts';
export type { EncodeOptions, EncodedConversation, MultiTurnMode } from './lossMask.ts';
export { REJECT_REASONS } from './rejectReasons.ts';
export type { RejectReason } from './rejectReasons.ts';
export { RolloutBuilder } from './rollout.ts';
export type { ToolResponse, AppendOptions } from './rollout.ts';
export { parseToolCalls, codeFromArguments, TOOL_CALL_OPEN, TOOL_CALL_CLOSE } from './toolCalls.ts';
export type { ParsedTurn, ParsedCall, CallOutcome, ToolCallProblem, ParseOptions } from './toolCalls.ts';
export { ChatProtocolError } from './errors.ts';
export { chatModelIdentity, readChatModelFiles } from './modelFiles.ts';
export { readSftFile, DEFAULT_SFT_MAX_LENGTH } from './sft/reader.ts';
export type { SftReadOptions, SftReject, SftChunk } from './sft/reader.ts';
export { normalizeSftRow } from './sft/rows.ts';
export { CODE_INTERPRETER_NAME, CODE_INTERPRETER_TOOL } from './types.ts';
export type { ChatMessage, ToolCall, ToolSpec, Role } from './types.ts';
