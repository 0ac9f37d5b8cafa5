import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readSafetensors, decodeSafetensors, encodeSafetensors, writeSafetensors, readSafetensorsHeader, f32ToBf16, bf16ToF32,
} from '../../engine/safetensors.ts';
import type { HostTensor } from '../../engine/tensors.ts';

const FIXTURES = new URL('../fixtures/engine/', import.meta.url).pathname;

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** A hand-built safetensors file: header object + raw data bytes, for the malformed-file cases. */
function rawFile(header: unknown, data: Uint8Array, headerLengthOverride?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLengthOverride ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('reads a file written by the reference implementation; file and in-memory readers agree', async () => {
  const path = `${FIXTURES}qwen3_untied/model.safetensors`;
  const fromFile = await readSafetensors(path);
  const fromBuf = decodeSafetensors(readFileSync(path), path);
  assert.deepEqual(fromFile.metadata, { format: 'pt' });
  assert.equal(fromFile.tensors.size, 25);
  const q = fromFile.tensors.get('model.layers.1.self_attn.q_proj.weight')!;
  assert.deepEqual(q.shape, [48, 24]);
  assert.equal(q.dtype, 'F32');
  for (const [name, t] of fromFile.tensors) assert.deepEqual(bits(fromBuf.tensors.get(name)!.data), bits(t.data), name);
});

test('bf16 written by torch equals our round-to-nearest-even of the f32 weights, bit for bit', async () => {
  const f32 = (await readSafetensors(`${FIXTURES}qwen3_tied/model.safetensors`)).tensors;
  const shard = (await readSafetensors(`${FIXTURES}qwen3_tied_bf16_sharded/model-00001-of-00003.safetensors`)).tensors;
  assert.ok(shard.size > 0);
  for (const [name, t] of shard) {
    assert.equal(t.dtype, 'BF16');
    const ours = bf16ToF32(f32ToBf16(f32.get(name)!.data));
    assert.deepEqual(bits(t.data), bits(ours), name);
  }
});

test('f16 values widen exactly (within half precision of the f32 originals)', async () => {
  const f32 = (await readSafetensors(`${FIXTURES}qwen3_tied/model.safetensors`)).tensors;
  const f16 = (await readSafetensors(`${FIXTURES}qwen3_tied_f16/model.safetensors`)).tensors;
  for (const [name, t] of f16) {
    assert.equal(t.dtype, 'F16');
    const ref = f32.get(name)!.data;
    for (let i = 0; i < ref.length; i++) {
      assert.ok(Math.abs(t.data[i] - ref[i]) <= Math.abs(ref[i]) * 2 ** -11 + 2 ** -25, `${name}[${i}] ${t.data[i]} vs ${ref[i]}`);
    }
  }
});

test('f32 -> bf16 rounds to nearest even and handles special values', () => {
  const u = new Uint32Array([0x3f808000, 0x3f818000, 0x3f808001, 0x3f807fff, 0x7f800000, 0xff800000, 0x7f7fffff, 0x7fc00001, 0xffffffff, 0x80000000, 0x00000001]);
  const got = [...f32ToBf16(new Float32Array(u.buffer))];
  // tie->even down, tie->even up, above tie, below tie, +inf, -inf, max finite overflows to inf, NaNs canonical, -0, tiny subnormal -> 0
  assert.deepEqual(got, [0x3f80, 0x3f82, 0x3f81, 0x3f80, 0x7f80, 0xff80, 0x7f80, 0x7fc0, 0x7fc0, 0x8000, 0x0000]);
});

test('f32 encode/decode is bit-exact (NaN payloads, -0, subnormals) and the file writer matches the encoder', async () => {
  const special = new Float32Array(new Uint32Array([0x7fc01234, 0x80000000, 0x00000001, 0x7f7fffff, 0x3eaaaaab]).buffer);
  const tensors = new Map<string, HostTensor>([
    ['b', { shape: [5], data: special }],
    ['a', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ]);
  const buf = encodeSafetensors(tensors, { dtype: 'F32', metadata: { format: 'pt' } });
  const back = decodeSafetensors(buf);
  for (const [name, t] of tensors) {
    assert.deepEqual(back.tensors.get(name)!.shape, t.shape);
    assert.deepEqual(bits(back.tensors.get(name)!.data), bits(t.data), name);
  }
  const headerLen = Number(new DataView(buf.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLen) % 8, 0, 'data section is 8-byte aligned');

  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    const reordered = new Map([...tensors].reverse());
    const { sha256 } = await writeSafetensors(join(dir, 'x.safetensors'), reordered, { dtype: 'F32', metadata: { format: 'pt' } });
    const onDisk = readFileSync(join(dir, 'x.safetensors'));
    assert.deepEqual(new Uint8Array(onDisk), buf, 'insertion order does not change the bytes');
    assert.match(sha256, /^[0-9a-f]{64}$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('malformed files are rejected with the file and tensor named', async () => {
  const four = new Uint8Array(8);
  const ok = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /bad\.st: 5 bytes is too short/],
    [rawFile(ok, four, 1000n), /bad\.st: header length 1000 is past the end of the file/],
    [rawFile(ok, four, 1n << 40n), /header length \d+ exceeds/],
    [rawFile('{"w": ', four), /bad\.st: safetensors header is not valid UTF-8 JSON/],
    [rawFile([1], four), /bad\.st: safetensors header is not a JSON object/],
    [rawFile(ok, four.subarray(0, 6)), /bad\.st: tensor "w": data_offsets end 8 is past the end of the data \(6 bytes\): file truncated/],
    [rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, four), /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
    [rawFile({ w: { dtype: 'Q4', shape: [2], data_offsets: [0, 8] } }, four), /tensor "w": unknown dtype "Q4"/],
    [rawFile({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, four), /tensor "w": unsupported dtype I64/],
    [rawFile({ w: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, four), /tensor "w": shape must be an array of non-negative integers/],
    [rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, four), /tensor "w": data_offsets must be \[begin, end\]/],
    [rawFile({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8], extra: 1 } }, four), /tensor "w": unexpected key\(s\) extra/],
    [rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, four), /tensor "b" bytes \[4, 8\) overlap tensor "a"/],
    [rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, four), /tensor "a" starts at 4 but the previous tensor ends at 0: unaccounted gap/],
    [rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, four), /tensors cover 4 bytes but the data section has 8: trailing bytes/],
    [rawFile({ __metadata__: { n: 1 }, ...ok }, four), /__metadata__ must be an object of string values/],
  ];
  const dir = mkdtempSync(join(tmpdir(), 'st-'));
  try {
    for (const [bytes, re] of cases) {
      assert.throws(() => decodeSafetensors(bytes, 'bad.st'), re, re.source);
      const path = join(dir, 'bad.st');
      writeFileSync(path, bytes);
      await assert.rejects(readSafetensors(path), re, `file reader: ${re.source}`);
      await assert.rejects(readSafetensorsHeader(path), re);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writing rejects data that does not match its shape, naming the tensor', async () => {
  const bad = new Map<string, HostTensor>([['x', { shape: [2, 2], data: new Float32Array(3) }]]);
  assert.throws(() => encodeSafetensors(bad, { dtype: 'F32' }), /tensor "x" has 3 values but shape \[2,2\] needs 4/);
});
