// Connection settings shared by the CLI, the worker and the tests. Environment variables override defaults so
// the same commands work against a local dev server or a user's own cluster.
export const TASK_QUEUE = process.env.AGENTRL_TASK_QUEUE ?? 'agentrl';
export const NAMESPACE = process.env.AGENTRL_NAMESPACE ?? 'default';
export const DEFAULT_ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';

/** Search attributes the workflows upsert, so runs can be filtered in the Web UI. */
export const SEARCH_ATTRIBUTES = {
  AgentrlRecipe: 'Keyword',
  AgentrlRecipeHash: 'Keyword',
  AgentrlStage: 'Keyword',
} as const;

/** Closed runs stay visible for a year: long enough to audit, unlike the dev server's 24 h default. */
export const RETENTION_DAYS = Number(process.env.AGENTRL_RETENTION_DAYS ?? 365);
