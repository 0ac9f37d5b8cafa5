// The workflows a user can start (from the CLI or the Web UI); each takes one JSON object, the recipe.
export { pipelineWorkflow, progressQuery } from './pipeline.ts';
export { balanceWorkflow } from './balance.ts';
export { sftWorkflow } from './sft.ts';
