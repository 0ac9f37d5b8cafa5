// Every activity the worker registers. Workflows import this module with `import type` only.
export { prepareStage, writeStageAudit } from './stage.ts';
export { ingestSource, selectBalanced, writeRlDataset, writeRejectsTable } from './balance-steps.ts';
// Activities with worker-held dependencies: infra/worker.ts creates them with theirs.
export { createSftActivities } from './sft.ts';
export type { SftActivities } from './sft.ts';
export { ModelCache } from './training-cache.ts';
