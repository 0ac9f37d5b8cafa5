// The sandbox layer's public API: one import for activities and the reward layer.
export { createLocalSandbox } from './local.ts';
export type { LocalSandbox, LocalSandboxOptions } from './local.ts';
export { createSandboxFusion, SandboxFusionError } from './fusion.ts';
export type { SandboxFusionClient, SandboxFusionOptions, RunCodeRequest, RunCodeResponse } from './fusion.ts';
export { CodeInterpreter, truncateOutput } from './tool.ts';
export type { CodeInterpreterOptions, ToolExecution, ToolStatus, TruncateSide } from './tool.ts';
export { judge, codeOutcome, extractLastPythonBlock } from './judge.ts';
export type { JudgeOptions, JudgeResult, TestVerdict, TestStatus, CodeOutcome, CodeOutcomeOptions } from './judge.ts';
export { outputsMatch, valuesMatch } from './compare.ts';
export type { CompareOptions } from './compare.ts';
export { DEFAULT_RUN_LIMITS } from './types.ts';
export type { Sandbox, RunRequest, RunResult, RunStatus, RunLimits, CaseRunner, CaseJob, CaseJobOptions, CaseRun } from './types.ts';
