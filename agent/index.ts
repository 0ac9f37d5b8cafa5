// Public API of the agent layer: multi-turn tool rollouts producing trajectory records (no Temporal).
export { runTrajectory, runGroup, PromptTooLongError } from './loop.ts';
export type { AgentSettings, AgentDeps, TrajectoryTask } from './loop.ts';
export { SerialSamplerPolicy } from './policy.ts';
export type { PolicyClient, PolicyTurn, TurnParams } from './policy.ts';
export { ToolRunner, ToolInfrastructureError } from './toolRunner.ts';
export type { ToolRunnerOptions, ToolRun } from './toolRunner.ts';
export { trajectorySeed } from './seed.ts';
export { responseTextForReward } from './responseText.ts';
export { scoreRecords, withAdvantages } from './scoring.ts';
export { grpoUpdate, oldLogProbs } from './update.ts';
export type { GrpoUpdateSettings, UpdateMetrics } from './update.ts';
export { rolloutMetrics, validationMetrics } from './metrics.ts';
export type { MetricRow } from './metrics.ts';
