// The sandbox layer's public API: it runs code. Judging and the code reward live in rewards/ (rewards/index.ts).
export { createLocalSandbox } from './local.ts';
export type { LocalSandbox, LocalSandboxOptions } from './local.ts';
export { createSandboxFusion, SandboxFusionError } from './fusion.ts';
export type { SandboxFusionClient, SandboxFusionOptions, RunCodeRequest, RunCodeResponse } from './fusion.ts';
export { CodeInterpreter, truncateOutput } from './tool.ts';
export type { CodeInterpreterOptions, ToolExecution, ToolStatus, TruncateSide } from './tool.ts';
export { DEFAULT_RUN_LIMITS } from './types.ts';
export type { Sandbox, RunRequest, RunResult, RunStatus, RunLimits, CaseRunner, CaseJob, CaseJobOptions, CaseRun } from './types.ts';
