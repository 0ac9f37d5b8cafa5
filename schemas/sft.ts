// Arrow layout of tokenised SFT samples (the SFT reader's output, the trainer's input). One row per
// sample: token ids, the loss mask (1 = trained), and where it came from. A conversation gives one sample, or
// under multi_turn per_turn one per assistant turn the template renders differently later (turn_index).
import { Bool, Field, Int32, Int8, List, makeData, RecordBatch, Schema, Struct, Utf8, vectorFromArray } from 'apache-arrow';

export const SFT_SCHEMA = new Schema([
  /** Row number in the source file (0-based; for JSONL the line number minus one). */
  new Field('source_row', new Int32(), false),
  /** The row's own id (`id` column or field) when it has one. */
  new Field('sample_id', new Utf8(), true),
  new Field('input_ids', new List(new Field('item', new Int32(), false)), false),
  new Field('loss_mask', new List(new Field('item', new Int8(), false)), false),
  /** Tokens kept (after truncation). */
  new Field('n_tokens', new Int32(), false),
  /** Tokens with mask 1 (the loss denominator's share of this row). */
  new Field('n_trained', new Int32(), false),
  /** True when the conversation was longer than the max length and cut on the right. */
  new Field('truncated', new Bool(), false),
  /**
   * Message index (0-based, in the row's messages) of the last assistant turn the sample trains; with
   * source_row it identifies a sample. Null when the writer did not say (samples built outside the reader).
   */
  new Field('turn_index', new Int32(), true),
]);

export interface SftSample {
  sourceRow: number;
  sampleId: string | null;
  ids: ArrayLike<number>;
  mask: ArrayLike<number>;
  truncated: boolean;
  /** See the turn_index field. */
  turnIndex?: number | null;
}

function listData<T extends Int32 | Int8>(type: List<T>, child: T, values: Int32Array | Int8Array, offsets: Int32Array) {
  const childData = makeData({ type: child, length: values.length, nullCount: 0, data: values as any });
  return makeData({ type, length: offsets.length - 1, nullCount: 0, valueOffsets: offsets, child: childData });
}

function int32Data(values: Int32Array) {
  return makeData({ type: new Int32(), length: values.length, nullCount: 0, data: values });
}

/** Builds one RecordBatch in SFT_SCHEMA from samples (ids and mask must have equal lengths). */
export function makeSftBatch(samples: readonly SftSample[]): RecordBatch {
  const total = samples.reduce((n, s) => n + s.ids.length, 0);
  const ids = new Int32Array(total);
  const mask = new Int8Array(total);
  const offsets = new Int32Array(samples.length + 1);
  const nTrained = new Int32Array(samples.length);
  let pos = 0;
  samples.forEach((s, i) => {
    if (s.ids.length !== s.mask.length) throw new Error(`sample at source row ${s.sourceRow}: ids (${s.ids.length}) and mask (${s.mask.length}) differ in length`);
    for (let k = 0; k < s.ids.length; k++) {
      ids[pos + k] = s.ids[k];
      mask[pos + k] = s.mask[k];
      nTrained[i] += s.mask[k];
    }
    pos += s.ids.length;
    offsets[i + 1] = pos;
  });
  const fields = SFT_SCHEMA.fields;
  const children = [
    int32Data(Int32Array.from(samples, (s) => s.sourceRow)),
    vectorFromArray(samples.map((s) => s.sampleId), fields[1].type).data[0],
    listData(fields[2].type, fields[2].type.children[0].type, ids, offsets),
    listData(fields[3].type, fields[3].type.children[0].type, mask, offsets),
    int32Data(Int32Array.from(samples, (s) => s.ids.length)),
    int32Data(nTrained),
    vectorFromArray(samples.map((s) => s.truncated), fields[6].type).data[0],
    vectorFromArray(samples.map((s) => s.turnIndex ?? null), fields[7].type).data[0],
  ];
  const struct = makeData({ type: new Struct(fields), length: samples.length, nullCount: 0, children });
  return new RecordBatch(SFT_SCHEMA, struct);
}
