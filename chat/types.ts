// Conversation shapes shared by the chat layer: OpenAI/verl-style messages with optional Hermes tool calls.

export type Role = 'system' | 'user' | 'assistant' | 'tool';

/** One function call made by an assistant turn; `arguments` is an object or its JSON text. */
export interface ToolCall {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: Record<string, unknown> | string };
}

export interface ChatMessage {
  role: Role;
  content: string;
  tool_calls?: ToolCall[];
  /** For role 'assistant': the turn's reasoning, when kept apart from content (Qwen3 templates print it in <think>). */
  reasoning_content?: string;
  /** For role 'tool': which call this result answers (kept for templates that print it). */
  tool_call_id?: string;
  /** For role 'tool': the tool's name (some templates print it). */
  name?: string;
}

/** A tool schema as it appears in `tools` lists (JSON-schema parameters). */
export interface ToolSpec {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export const CODE_INTERPRETER_NAME = 'code_interpreter';

/**
 * The one tool of the recipe: Python execution with a single required string argument. Its one home: the prompt
 * the model is trained on and sampled with must not depend on which module a caller imported.
 */
export const CODE_INTERPRETER_TOOL: ToolSpec = {
  type: 'function',
  function: {
    name: CODE_INTERPRETER_NAME,
    description: 'Executes Python code and returns its output.',
    parameters: {
      type: 'object',
      properties: { code: { type: 'string', description: 'The code to execute.' } },
      required: ['code'],
    },
  },
};
