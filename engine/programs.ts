// The ONNX programs the learner and the sampler run, built from the model (qwen3/model.ts), the losses and the
// autodiff. Inputs are named once here: parameters by their HF names, then
//   input_ids, position_ids, attention_mask: int64 [B, T];  loss_scale: float [];
//   per scored or trained token (M of them, at flat positions b * T + t in score_rows / loss_rows):
//   targets: int64 [M];  loss_mask, old_logp, advantages: float [M].
// The vocabulary head runs only at those M positions: prompt and padding positions carry no loss, and the head
// is most of the work.
import type { Qwen3Config } from './config.ts';
import { Graph } from './graph/graph.ts';
import type { FloatType, Tensor } from './graph/graph.ts';
import { grad } from './graph/autodiff.ts';
import { shapeOf } from './graph/ops/elementwise.ts';
import { headLogProbs, logSumExp } from './graph/ops/nn.ts';
import { gatherRows, reshape, transposeLast2 } from './graph/ops/shape.ts';
import { declareParams, decoder, decoderStep, lmHead, lmHeadFewRows } from './qwen3/model.ts';
import type { KvOut, KvStep, Qwen3Params } from './qwen3/model.ts';
import type { AttentionKind } from './attention-choice.ts';
import { grpoInputs, grpoLoss, sftLoss } from './losses.ts';
import type { LossSpec } from './losses.ts';

export interface Program {
  bytes: Uint8Array;
  /** HF parameter names, in canonical order. */
  params: string[];
}

export const GRAD_PREFIX = 'grad:';
/** Gradient rows of an embedding ([..., hidden]) and their row indices (int64 [..., 1]), to scatter-add on the host. */
export const ROWS_PREFIX = 'grad_rows:';
export const ROW_INDEX_PREFIX = 'grad_row_index:';
export const METRIC_PREFIX = 'metric:';

interface Sequences {
  ids: Tensor;
  positions: Tensor;
  mask: Tensor;
}

function sequenceInputs(g: Graph): Sequences {
  return {
    ids: g.input('input_ids', 'int64', ['B', 'T']),
    positions: g.input('position_ids', 'int64', ['B', 'T']),
    mask: g.input('attention_mask', 'int64', ['B', 'T']),
  };
}

/** logp and entropy [M] of `targets` at the flat positions `rows` (int64 [M]); the head runs at those rows only. */
function scoreAt(cfg: Qwen3Config, p: Qwen3Params, s: Sequences, rows: Tensor, targets: Tensor, attention: AttentionKind): { logp: Tensor; entropy: Tensor } {
  return headLogProbs(gatherRows(decoder(cfg, p, s.ids, s.positions, s.mask, attention), rows), p.head, targets);
}

/**
 * logp and entropy [M] of given targets at the flat positions score_rows (int64 [M], b * T + t): the learner's
 * scoring pass (no gradient). Positions outside score_rows skip the head.
 */
export function logProbsProgram(cfg: Qwen3Config, dtype: FloatType, attention: AttentionKind = 'masked'): Program {
  const g = new Graph(dtype);
  const p = declareParams(g, cfg);
  const s = sequenceInputs(g);
  const rows = g.input('score_rows', 'int64', ['M']);
  const targets = g.input('targets', 'int64', ['M']);
  const { logp, entropy } = g.noGrad(() => scoreAt(cfg, p, s, rows, targets, attention));
  g.output(logp, 'logp');
  g.output(entropy, 'entropy');
  return { bytes: g.toModel(), params: [...p.byName.keys()] };
}

/** Full logits [B, T, V] (parity tests and the no-cache reference decode). */
export function logitsProgram(cfg: Qwen3Config, dtype: FloatType, attention: AttentionKind = 'masked'): Program {
  const g = new Graph(dtype);
  const p = declareParams(g, cfg);
  const s = sequenceInputs(g);
  const logits = g.noGrad(() => lmHead(p, decoder(cfg, p, s.ids, s.positions, s.mask, attention)));
  const shape = g.apply1('Concat', [shapeOf(s.ids), g.ints([cfg.vocabSize])], { axis: 0 }, { dtype: 'int64', shape: [3] });
  g.output(reshape(logits, ['B', 'T', cfg.vocabSize], shape), 'logits');
  return { bytes: g.toModel(), params: [...p.byName.keys()] };
}

/**
 * One micro-batch of a train step: forward, the loss, backward. Outputs the scaled loss and metrics
 * (`metric:<name>`, scalars), every parameter's gradient (`grad:<hf name>`; for the embedding and the head only
 * the dense part, with their rows as `grad_rows:` / `grad_row_index:`) and the squared norm of the dense parts
 * (`grad_sumsq`). The optimizer runs on the device thread (see device.adamw).
 */
export function gradProgram(cfg: Qwen3Config, dtype: FloatType, loss: LossSpec['kind'], attention: AttentionKind = 'masked'): Program {
  const g = new Graph(dtype);
  const p = declareParams(g, cfg);
  const s = sequenceInputs(g);
  const rows = g.input('loss_rows', 'int64', ['M']);
  const targets = g.input('targets', 'int64', ['M']);
  const mask = g.input('loss_mask', dtype, ['M']);
  const scale = g.input('loss_scale', dtype, []);
  const { logp } = scoreAt(cfg, p, s, rows, targets, attention);
  const inp = { logp, mask, scale };
  const lg = loss === 'sft' ? sftLoss(inp) : grpoLoss(inp, grpoInputs(g));
  for (const [name, t] of Object.entries(lg.metrics)) g.output(t, METRIC_PREFIX + name);
  const params = [...p.byName.entries()];
  const grads = grad(lg.loss, params.map(([, t]) => t));
  const dense: Tensor[] = [];
  params.forEach(([name], i) => {
    // An embedding's gradient leaves as its dense part (the tied head's, or nothing) plus the gathered rows.
    const rowGrad = g.scatterGrads.get(grads[i].name);
    const part = rowGrad ? rowGrad.base : grads[i];
    if (rowGrad) {
      g.output(rowGrad.indices, ROW_INDEX_PREFIX + name);
      g.output(rowGrad.updates, ROWS_PREFIX + name);
    }
    if (!part) return;
    g.output(part, GRAD_PREFIX + name);
    dense.push(part);
  });
  // Squared norm of the dense parts (the host adds what the rows change), so that clipping a single micro-batch
  // needs no extra pass over the gradients.
  const sq = dense.map((t) => g.apply1('ReduceSumSquare', [t], { keepdims: 0 }, { dtype, shape: [] }));
  g.output(g.apply1('Sum', sq, {}, { dtype, shape: [] }), 'grad_sumsq');
  return { bytes: g.toModel(), params: params.map(([n]) => n) };
}

/**
 * One KV-cached decoding step over T new tokens per row (T = 1 when decoding, more for a prefill or an
 * appended tool turn). Extra inputs: past_keys.<l> [B, Hkv, D, S], past_values.<l> [B, Hkv, S, D], past_len
 * int64 [B], new_valid bool [B, T], last_index int64 [B] (flat row index b*T + t of each row's last real token).
 * Outputs: logits [B, V] at last_index and their log-sum-exp lse [B], new_keys.<l> [B, Hkv, D, T],
 * new_values.<l> [B, Hkv, T, D]. `head` picks the head's product for the batch size (see lmHeadFewRows); both
 * give the same logits up to float rounding.
 */
export function decodeProgram(cfg: Qwen3Config, dtype: FloatType, head: HeadRows = 'many-rows'): Program {
  const g = new Graph(dtype);
  const p = declareParams(g, cfg);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const positions = g.input('position_ids', 'int64', ['B', 'T']);
  const { numKeyValueHeads: h, headDim: d } = cfg;
  const keys = p.layers.map((_, l) => g.input(`past_keys.${l}`, dtype, ['B', h, d, 'S']));
  const values = p.layers.map((_, l) => g.input(`past_values.${l}`, dtype, ['B', h, 'S', d]));
  const pastLen = g.input('past_len', 'int64', ['B']);
  const newValid = g.input('new_valid', 'bool', ['B', 'T']);
  const step = decoderStep(cfg, p, ids, positions, { keys, values, pastLen, newValid });
  stepOutputs(g, cfg, p, step, head);
  return { bytes: g.toModel(), params: [...p.byName.keys()] };
}

/**
 * decodeProgram's first step for rows with nothing cached, on the fused attention (float32, CPU): each row's
 * tokens first and its padding after, so causality alone keeps padding out. Inputs input_ids, position_ids,
 * last_index; the same outputs as decodeProgram. A long prompt does not materialise [B, heads, T, T] masked
 * scores, as the decode program's explicit attention would (docs/engine.md, "Fresh prompts through the fused
 * prefill"). `attention` 'causal-blocked-N' runs one row in query blocks.
 */
export function prefillProgram(cfg: Qwen3Config, head: HeadRows = 'many-rows', attention: AttentionKind = 'causal'): Program {
  const g = new Graph('float32');
  const p = declareParams(g, cfg);
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const positions = g.input('position_ids', 'int64', ['B', 'T']);
  const step = g.noGrad(() => {
    const kv: KvOut = { keys: [], values: [] };
    const hidden = decoder(cfg, p, ids, positions, null, attention, kv);
    return { hidden, newKeys: kv.keys.map((k) => transposeLast2(k)), newValues: kv.values };
  });
  stepOutputs(g, cfg, p, step, head);
  return { bytes: g.toModel(), params: [...p.byName.keys()] };
}

export type HeadRows = 'few-rows' | 'many-rows';

/** logits and lse at last_index (an input added here), and the new keys and values per layer. */
function stepOutputs(g: Graph, cfg: Qwen3Config, p: Qwen3Params, step: KvStep, head: HeadRows): void {
  const last = g.input('last_index', 'int64', ['B']);
  const lastHidden = g.apply1('Gather', [step.hidden, last], { axis: 0 }, { dtype: g.float, shape: ['B', cfg.hiddenSize] });
  const logits = g.noGrad(() => (head === 'few-rows' ? lmHeadFewRows(p, lastHidden) : lmHead(p, lastHidden)));
  g.output(logits, 'logits');
  g.output(g.noGrad(() => logSumExp(logits)), 'lse');
  step.newKeys.forEach((k, l) => g.output(k, `new_keys.${l}`));
  step.newValues.forEach((v, l) => g.output(v, `new_values.${l}`));
}
