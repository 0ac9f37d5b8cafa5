// The safetensors file format: 8-byte little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}), then raw little-endian
// tensor bytes. Reading is strict (every tensor's byte range must match its shape, and the ranges must tile the
// data section exactly, as the reference Rust reader demands) and works through a file descriptor, so shards
// larger than Node's 2 GiB readFile limit load tensor by tensor. Writing is deterministic (sorted names, no
// timestamps, header padded to 8 bytes) and atomic (temp file + fsync + rename).
import { endianness } from 'node:os';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../core/atomic-write.ts';
import { numel } from './tensors.ts';
import type { HostTensor } from './tensors.ts';

export type SafetensorsDtype = 'F32' | 'BF16' | 'F16';
export type WriteDtype = 'F32' | 'BF16';

const ITEM_SIZE: Record<SafetensorsDtype, number> = { F32: 4, BF16: 2, F16: 2 };
// Valid safetensors dtypes this engine does not load: named separately so the error says "unsupported", not "unknown".
const OTHER_DTYPES = new Set(['F64', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64']);
const MAX_HEADER_BYTES = 100_000_000; // same cap as the reference implementation
const IO_CHUNK = 1 << 28; // 256 MiB per read/write call: stays under the kernel's ~2 GiB single-call limit

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Byte range inside the data section (after the header). */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** Absolute file offset where the data section starts (8 + header length). */
  dataStart: number;
  metadata: Record<string, string> | undefined;
  /** Tensors in file order (ascending offsets). */
  tensors: TensorInfo[];
}

export interface LoadedTensor extends HostTensor {
  /** The on-disk dtype the values were widened from. */
  dtype: SafetensorsDtype;
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new Error('safetensors: big-endian hosts are not supported (the format is little-endian)');
}

function isNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Validates a parsed header against the size of the data section. `file` names the source in every error.
 * Exported so callers (and tests) can check a header without any tensor bytes.
 */
export function validateHeader(header: unknown, dataBytes: number, file: string): Omit<SafetensorsHeader, 'dataStart'> {
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new Error(`${file}: safetensors header is not a JSON object`);
  let metadata: Record<string, string> | undefined;
  const tensors: TensorInfo[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
        throw new Error(`${file}: __metadata__ must be an object of string values`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: entry is not an object`);
    const entry = value as Record<string, unknown>;
    const extra = Object.keys(entry).filter((k) => k !== 'dtype' && k !== 'shape' && k !== 'data_offsets');
    if (extra.length > 0) throw new Error(`${where}: unexpected key(s) ${extra.join(', ')}`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string') throw new Error(`${where}: dtype missing or not a string`);
    if (!(dtype in ITEM_SIZE)) {
      if (OTHER_DTYPES.has(dtype)) throw new Error(`${where}: unsupported dtype ${dtype} (only F32, BF16, F16 load)`);
      throw new Error(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegInt)) throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
      throw new Error(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const want = numel(shape) * ITEM_SIZE[dtype as SafetensorsDtype];
    if (offsets[1] - offsets[0] !== want) {
      throw new Error(`${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${want} bytes but data_offsets [${offsets[0]}, ${offsets[1]}] span ${offsets[1] - offsets[0]}`);
    }
    if (offsets[1] > dataBytes) {
      throw new Error(`${where}: data_offsets end ${offsets[1]} is past the end of the data (${dataBytes} bytes): file truncated?`);
    }
    tensors.push({ name, dtype: dtype as SafetensorsDtype, shape: shape.slice(), begin: offsets[0], end: offsets[1] });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : 1));
  let cursor = 0;
  let previous = '';
  for (const t of tensors) {
    if (t.begin < cursor) throw new Error(`${file}: tensor "${t.name}" bytes [${t.begin}, ${t.end}) overlap tensor "${previous}" (ends at ${cursor})`);
    if (t.begin > cursor) throw new Error(`${file}: tensor "${t.name}" starts at ${t.begin} but the previous tensor ends at ${cursor}: unaccounted gap`);
    cursor = t.end;
    if (t.end > t.begin) previous = t.name;
  }
  if (cursor !== dataBytes) throw new Error(`${file}: tensors cover ${cursor} bytes but the data section has ${dataBytes}: trailing bytes`);
  return { metadata, tensors };
}

function parseHeaderBytes(json: Uint8Array, file: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    throw new Error(`${file}: safetensors header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
}

function headerLength(prefix: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8) throw new Error(`${file}: ${fileBytes} bytes is too short for a safetensors file (8-byte header length missing)`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw new Error(`${file}: header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (Number(n) > fileBytes - 8) throw new Error(`${file}: header length ${n} is past the end of the file (${fileBytes} bytes): truncated`);
  return Number(n);
}

// ---- dtype conversions ---------------------------------------------------------------------------------------

/** bf16 bit patterns -> f32 (exact: bf16 is the top half of an f32). */
export function bf16ToF32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/** f32 -> bf16 bit patterns, rounding to nearest-even (as torch does); every NaN becomes the canonical 0x7fc0. */
export function f32ToBf16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i];
    if ((x & 0x7fffffff) > 0x7f800000) out[i] = 0x7fc0;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

let halfTable: Float32Array | undefined;
/** f16 bit patterns -> f32 (exact, via a 64 Ki-entry table built on first use). */
export function f16ToF32(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exp = (h >>> 10) & 0x1f;
      const man = h & 0x3ff;
      if (exp === 0) halfTable[h] = sign * man * 2 ** -24;
      else if (exp === 31) halfTable[h] = man === 0 ? sign * Infinity : NaN;
      else halfTable[h] = sign * (1 + man / 1024) * 2 ** (exp - 15);
    }
  }
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}

/** `owned`: the bytes are a fresh buffer of their own (a file read), so f32 data can be viewed in place. */
function decode(bytes: Uint8Array, info: TensorInfo, owned: boolean): Float32Array {
  const count = numel(info.shape);
  let aligned = bytes;
  if (!owned || bytes.byteOffset % 4 !== 0) {
    // Tensor data inside an in-memory file need not be 4-byte aligned, and must not alias the caller's buffer.
    aligned = new Uint8Array(bytes.length);
    aligned.set(bytes);
  }
  if (info.dtype === 'F32') return new Float32Array(aligned.buffer, aligned.byteOffset, count);
  const bits = new Uint16Array(aligned.buffer, aligned.byteOffset, count);
  return info.dtype === 'BF16' ? bf16ToF32(bits) : f16ToF32(bits);
}

// ---- reading ---------------------------------------------------------------------------------------------------

async function readExactly(fh: FileHandle, into: Uint8Array, position: number, file: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const len = Math.min(IO_CHUNK, into.length - done);
    const { bytesRead } = await fh.read(into, done, len, position + done);
    if (bytesRead === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
}

async function readHeaderFrom(fh: FileHandle, file: string): Promise<SafetensorsHeader> {
  const { size } = await fh.stat();
  const prefix = new Uint8Array(8);
  if (size >= 8) await readExactly(fh, prefix, 0, file);
  const n = headerLength(prefix, size, file);
  const json = new Uint8Array(n);
  await readExactly(fh, json, 8, file);
  const { metadata, tensors } = validateHeader(parseHeaderBytes(json, file), size - 8 - n, file);
  return { dataStart: 8 + n, metadata, tensors };
}

export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const fh = await openForRead(path);
  try {
    return await readHeaderFrom(fh, path);
  } finally {
    await fh.close();
  }
}

async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot open safetensors file (${(err as Error).message})`);
  }
}

/** Reads every tensor of a file, widened to f32, keyed by name in file order. */
export async function readSafetensors(path: string): Promise<{ metadata: Record<string, string> | undefined; tensors: Map<string, LoadedTensor> }> {
  assertLittleEndianHost();
  const fh = await openForRead(path);
  try {
    const header = await readHeaderFrom(fh, path);
    const tensors = new Map<string, LoadedTensor>();
    for (const info of header.tensors) {
      const raw = new Uint8Array(info.end - info.begin);
      await readExactly(fh, raw, header.dataStart + info.begin, path);
      tensors.set(info.name, { shape: info.shape, dtype: info.dtype, data: decode(raw, info, true) });
    }
    return { metadata: header.metadata, tensors };
  } finally {
    await fh.close();
  }
}

/** Parses a whole safetensors file held in memory (small files, tests). */
export function decodeSafetensors(buf: Uint8Array, file = '<buffer>'): { metadata: Record<string, string> | undefined; tensors: Map<string, LoadedTensor> } {
  assertLittleEndianHost();
  const n = headerLength(buf.subarray(0, 8), buf.length, file);
  const { metadata, tensors: infos } = validateHeader(parseHeaderBytes(buf.subarray(8, 8 + n), file), buf.length - 8 - n, file);
  const tensors = new Map<string, LoadedTensor>();
  for (const info of infos) {
    tensors.set(info.name, { shape: info.shape, dtype: info.dtype, data: decode(buf.subarray(8 + n + info.begin, 8 + n + info.end), info, false) });
  }
  return { metadata, tensors };
}

// ---- writing ---------------------------------------------------------------------------------------------------

export interface WriteOptions {
  dtype: WriteDtype;
  metadata?: Record<string, string>;
}

function checkTensor(name: string, t: HostTensor, file: string): void {
  if (!Array.isArray(t.shape) || !t.shape.every(isNonNegInt)) throw new Error(`${file}: tensor "${name}" has an invalid shape ${JSON.stringify(t.shape)}`);
  if (!(t.data instanceof Float32Array)) throw new Error(`${file}: tensor "${name}" data must be a Float32Array`);
  if (t.data.length !== numel(t.shape)) throw new Error(`${file}: tensor "${name}" has ${t.data.length} values but shape ${JSON.stringify(t.shape)} needs ${numel(t.shape)}`);
}

/** The header bytes (length prefix + padded JSON) for tensors written in sorted-name order. */
function buildHeader(names: string[], tensors: ReadonlyMap<string, HostTensor>, opts: WriteOptions): Uint8Array {
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = Object.fromEntries(Object.keys(opts.metadata).sort().map((k) => [k, opts.metadata![k]]));
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const size = t.data.length * ITEM_SIZE[opts.dtype];
    header[name] = { dtype: opts.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does (mmap-friendly).
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

function tensorBytes(t: HostTensor, dtype: WriteDtype): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const bits = f32ToBf16(t.data);
  return new Uint8Array(bits.buffer, 0, bits.byteLength);
}

/** Serialises to memory (small tensors, tests). Byte-identical to what writeSafetensors puts on disk. */
export function encodeSafetensors(tensors: ReadonlyMap<string, HostTensor>, opts: WriteOptions): Uint8Array {
  assertLittleEndianHost();
  const names = [...tensors.keys()].sort();
  for (const name of names) checkTensor(name, tensors.get(name)!, '<buffer>');
  const head = buildHeader(names, tensors, opts);
  const parts = [head, ...names.map((n) => tensorBytes(tensors.get(n)!, opts.dtype))];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes tensors (sorted by name) to a safetensors file atomically; returns its size and sha256. */
export async function writeSafetensors(path: string, tensors: ReadonlyMap<string, HostTensor>, opts: WriteOptions): Promise<{ bytes: number; sha256: string }> {
  assertLittleEndianHost();
  const names = [...tensors.keys()].sort();
  for (const name of names) checkTensor(name, tensors.get(name)!, path);
  return writeFileAtomic(path, async (write) => {
    await write(buildHeader(names, tensors, opts));
    for (const name of names) await write(tensorBytes(tensors.get(name)!, opts.dtype));
  });
}

/** Bytes one tensor occupies when written as `dtype` (for shard planning). */
export function storedBytes(t: HostTensor, dtype: WriteDtype): number {
  return t.data.length * ITEM_SIZE[dtype];
}
