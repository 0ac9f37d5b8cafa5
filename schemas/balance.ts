// Arrow schemas of the balance stage, declared field by field: type inference (tableFromJSON and friends) would
// turn strings into dictionaries, numbers into Float64 and fail on list<struct>, and a file's layout must not
// depend on the values that happen to be in it.
import { Field, Int64, List, Schema, Struct, Utf8 } from 'apache-arrow';

const str = (name: string, nullable = false): Field => new Field(name, new Utf8(), nullable);
const i64 = (name: string, nullable = false): Field => new Field(name, new Int64(), nullable);
/** pyarrow / HF datasets name a list's child `element` (3-level parquet lists); we write the same. */
const listOf = (name: string, child: Field, nullable = false): Field => new Field(name, new List(child), nullable);

/**
 * One eligible row of one source after its filters, before dedupe and sampling (ingest output, select input).
 * `content_key` is the hex digest of the normalised problem text: the dedupe key across and within sources.
 * `uid` identifies the row's content (normalised problem + ground truth) and does not depend on file names or
 * row positions, so the seeded sample is the same whichever reader or file order produced the candidates.
 */
export const CANDIDATE_SCHEMA = new Schema([
  str('uid'),
  str('data_source'),
  str('ability'), // "math" | "code"
  str('content_key'),
  str('problem'),
  str('starter_code', true),
  str('ground_truth'),
  str('source_file'), // the input file's lineage identity (datasets/balance/source-file.ts), also REJECT_SCHEMA's `file`
  i64('source_row'), // 0-based row within that file
  str('native_id', true),
  str('difficulty', true),
  str('tags', true), // JSON array of strings
]);

/** Selected rows: candidates plus their sampling rank (0 = first pick within its source). */
export const SELECTED_SCHEMA = new Schema([...CANDIDATE_SCHEMA.fields, i64('rank')]);

/** Every row that did not make it, with the reason (see docs/balance.md for the reason table). */
export const REJECT_SCHEMA = new Schema([
  str('source'),
  str('file'),
  i64('row'),
  str('reason'),
  str('detail'),
  str('uid', true),
]);

export const REJECT_REASONS = [
  'malformed_row', // the row parses but a required field is missing or has the wrong type
  'missing_problem',
  'problem_too_long',
  'empty_answer',
  'non_verifiable_answer', // "proof", "notfound"
  'answer_too_long',
  'question_type', // NuminaMath question_type not in filters.question_types
  'invalid_flag', // NuminaMath problem_is_valid / solution_is_valid is not "Yes"
  'synthetic',
  'difficulty_out_of_range',
  'bad_test_json', // code tests are not parseable JSON
  'no_tests', // code row without usable tests (fewer than filters.min_tests)
  'invalid_tests', // tests parse but do not have the verl shape
  'tests_too_large',
  'duplicate_within_source',
  'duplicate_across_sources',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

const messageStruct = new Struct([str('role'), str('content')]);

/** verl's RL parquet row (recipe.md section 7), plus source ids in extra_info for the audit. */
export const RL_SCHEMA = new Schema([
  str('data_source'),
  listOf('prompt', new Field('element', messageStruct, false)),
  str('ability'),
  new Field('reward_model', new Struct([str('style'), str('ground_truth')]), false),
  new Field(
    'extra_info',
    new Struct([
      str('split'),
      i64('index'),
      str('uid'),
      str('source_file'),
      i64('source_row'),
      str('native_id', true),
      str('difficulty', true),
      listOf('tags', new Field('element', new Utf8(), false), true),
    ]),
    false,
  ),
  str('agent_name'),
]);
