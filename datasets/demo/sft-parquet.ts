// The SFT set in the card's layout (the parquet of y-ohtani/open_agentrl_like_sft as pyarrow stores it):
//   messages  list<struct<role, content, tool_calls list<struct<id, type, function struct<name,
//             arguments struct<code, language>>>>, tool_call_id>>
//   tools     list<struct<type, function struct<name, description, parameters struct<type,
//             properties struct<code struct<type, description>>, required list<string>>>>>
// plus an `id` column naming the problem (family and index), which the SFT reader keeps as the sample id.
import { Field, List, Schema, Struct, Utf8 } from 'apache-arrow';
import type { DataType } from 'apache-arrow';
import { CODE_INTERPRETER_TOOL } from '../../chat/types.ts';
import type { SftMessage } from './traces.ts';
import { parquetBytes } from './tables.ts';

const str = (name: string): Field => new Field(name, new Utf8(), true);
const struct = (name: string, fields: Field[]): Field => new Field(name, new Struct(fields), true);
const list = (name: string, item: DataType): Field => new Field(name, new List(new Field('element', item, true)), true);

const CALL = new Struct([str('id'), str('type'), struct('function', [str('name'), struct('arguments', [str('code'), str('language')])])]);
const MESSAGE = new Struct([str('role'), str('content'), list('tool_calls', CALL), str('tool_call_id')]);
const PARAMETERS = [str('type'), struct('properties', [struct('code', [str('type'), str('description')])]), list('required', new Utf8())];
const TOOL = new Struct([str('type'), struct('function', [str('name'), str('description'), struct('parameters', PARAMETERS)])]);

export const SFT_SCHEMA = new Schema([str('id'), list('messages', MESSAGE), list('tools', TOOL)]);

export interface SftRow {
  id: string;
  messages: SftMessage[];
}

/** The parquet bytes of `rows`, each with the one code_interpreter tool, in row groups of 256. */
export function sftParquetBytes(rows: readonly SftRow[]): Uint8Array {
  const tools = [CODE_INTERPRETER_TOOL];
  return parquetBytes(SFT_SCHEMA, rows.map((r) => ({ id: r.id, messages: r.messages, tools })), 256, 'snappy');
}
