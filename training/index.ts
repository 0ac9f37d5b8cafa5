// Training foundations shared by the SFT and GRPO stages (no Temporal here): base models, digests,
// content-addressed checkpoints, HF export, metrics, schedules, data order and batches, the memory pre-check, and
// each stage's data: SFT conversations tokenised, RL prompts read, split and ordered.
export { loadBaseModel, exportDtype } from './model.ts';
export type { BaseModel, BaseDtype } from './model.ts';
export { modelDigest } from './digest.ts';
export { saveTrainCheckpoint, loadTrainCheckpoint, verifyCheckpoint } from './checkpoints.ts';
export type { TrainCheckpoint } from './checkpoints.ts';
export { exportHfModel } from './export.ts';
export type { ExportInput, ExportedFile } from './export.ts';
export { MetricsLog, metricsParquet, writeMetricsParquet } from './metrics.ts';
export { lrAt, warmupSteps } from './schedule.ts';
export type { Schedule } from './schedule.ts';
export { epochOrder, packMicroBatches, rowDigest, stepsPerEpoch, batchRows, worstMicroBatch } from './batches.ts';
export type { TokenRow } from './batches.ts';
export { checkTrainingMemory } from './memory-check.ts';
export { TrainingInputError } from './errors.ts';
export { tokenizeSftFiles, readTokenRows, rejectsParquet } from './sft-data.ts';
export { parquetBytes } from './parquet.ts';
export type { MultiTurn, SftRejectRow, TokenizeResult } from './sft-data.ts';
export { trainEpoch, globalStep } from './sft-loop.ts';
export type { SftHyper, EpochRun } from './sft-loop.ts';
export { readRlFiles, splitValidation, grpoStepsPerEpoch, stepPrompts } from './rl-data.ts';
export type { RlReject } from './rl-data.ts';
