// The embedded demo's data: task families, SFT traces, the balance sources and the SFT parquet.
export { DEMO_SOURCES, FAMILIES, drawProblems, problemKey } from './families.ts';
export type { CodeProblem, CodeTests, DemoProblem, DemoSource, MathProblem } from './families.ts';
export { DEMO_TEMPLATES, demoPrompt, finalTurn, sftMessages } from './traces.ts';
export type { SftMessage } from './traces.ts';
export { SOURCE_FILES, writeBalanceFiles } from './balance-files.ts';
export { SFT_SCHEMA, sftParquetBytes } from './sft-parquet.ts';
export { DEFAULT_DEMO_SIZES, demoSplits, ensureDemoData, writeDemoData } from './generate.ts';
export type { DemoData, DemoSizes, DemoSplits } from './generate.ts';
export { abilityOf, demoGroundTruth } from './ground-truth.ts';
export { DEMO_MODEL_SHAPE, demoConfig, demoTokenizerCorpus, writeDemoModel } from './model-files.ts';
export type { DemoModelOptions, DemoModelShape } from './model-files.ts';
export { DEMOS } from './demos.ts';
export type { DemoName, DemoRun } from './demos.ts';
