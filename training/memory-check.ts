// Refuses, before training starts, a model and data whose largest micro-batch would not fit in memory, with the
// numbers (engine/memory.ts), rather than letting the worker be killed for memory in the middle of an epoch.
import { totalmem } from 'node:os';
import type { Qwen3Config } from '../engine/config.ts';
import { overLimit, passBytes } from '../engine/memory.ts';
import { blocksForRow } from '../engine/qwen3/model.ts';
import type { AttentionKind } from '../engine/qwen3/model.ts';
import { worstMicroBatch } from './batches.ts';
import { TrainingInputError } from './errors.ts';

/** The learner's default (LearnerOptions.attentionMemory): above it a layer's probabilities are recomputed. */
const ATTENTION_MEMORY = 2 ** 30;

/** The attention form the learner picks for a micro-batch of this shape (fused CPU path, padded at the end). */
function attentionKind(cfg: Qwen3Config, rows: number, cols: number): { kind: AttentionKind; rows: number } {
  const oneRow = cfg.numAttentionHeads * cols ** 2 * 4;
  const blocks = blocksForRow(cols, oneRow, ATTENTION_MEMORY);
  // Long rows run one at a time in query blocks, whatever the micro-batch holds.
  if (blocks > 0) return { kind: `causal-blocked-${blocks}`, rows: 1 };
  return { kind: cfg.numHiddenLayers * rows * oneRow > ATTENTION_MEMORY ? 'causal-recompute' : 'causal', rows };
}

export interface MemoryPlan {
  longestRow: number;
  microTokens: number;
  /** Bytes allowed (default: the machine's memory). */
  limit?: number;
}

/** Throws TrainingInputError naming the shape, the estimate by part and the limit when it would not fit. */
export function checkTrainingMemory(cfg: Qwen3Config, plan: MemoryPlan): { bytes: number; limit: number } {
  const limit = plan.limit ?? totalmem();
  const worst = worstMicroBatch(plan.longestRow, plan.microTokens);
  const { kind, rows } = attentionKind(cfg, worst.rows, worst.cols);
  const shape = { rows, cols: worst.cols, headRows: rows * worst.cols };
  const bytes = passBytes(cfg, shape, kind, 'train');
  const err = overLimit(`the largest micro-batch (longest row ${plan.longestRow} tokens, micro-batch budget ${plan.microTokens} tokens)`, shape, kind, bytes, limit);
  if (err) throw new TrainingInputError(`memory check before training: ${err.message.replace(/^learner: /, '')}`);
  return { bytes: bytes.total, limit };
}
