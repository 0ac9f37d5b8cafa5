// AdamW's element update as a WebAssembly SIMD kernel (four f32 lanes), for the device thread. JavaScript cannot
// vectorise the update; this kernel runs at close to the speed of memory (figures: docs/BENCHMARKS.md, "Engine design measurements"). WebAssembly reads only its own memory, so tensors pass through it in chunks small
// enough to stay in cache: p, g, m, v in, the kernel, p, m, v out. Plain JavaScript, like worker.mjs; the module
// is assembled here, byte by byte, from the instruction list below (no toolchain, nothing prebuilt).

/** Elements per chunk: four arrays of 64 KiB, one WebAssembly page each. */
export const CHUNK = 16384;
const BYTES = CHUNK * 4;

function uleb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

function section(id, body) {
  return [id, ...uleb(body.length), ...body];
}

function vec(items) {
  return [...uleb(items.length), ...items.flat()];
}

function name(s) {
  return vec([...Buffer.from(s, 'utf8')].map((b) => [b]));
}

const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const op = {
  get: (i) => [0x20, ...uleb(i)],
  set: (i) => [0x21, ...uleb(i)],
  i32: (n) => [0x41, ...uleb(n)], // small non-negative constants only (uleb == sleb below 64)
  add: [0x6a],
  shl: [0x74],
  geU: [0x4f],
  simd: (code, ...imm) => [0xfd, ...uleb(code), ...imm],
};
// v128.load/store with 16-byte alignment at byte offset `off` from the address on the stack.
const load = (off) => op.simd(0x00, 4, ...uleb(off));
const store = (off) => op.simd(0x0b, 4, ...uleb(off));
const [splat, sqrt, fadd, fsub, fmul, fdiv] = [0x13, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7].map((c) => op.simd(c));

// Parameters: 0 n (elements, a multiple of 4), 1..8 the f32 constants of adamwKernel in worker.mjs
// (coef, c1, beta2, c2, stepSize, invBc2Sqrt, eps, decay). Locals: 9 byte offset, 10..17 the constants splatted.
const [P, G, M, V] = [0, BYTES, 2 * BYTES, 3 * BYTES];
const O = 9;
const K = (j) => 10 + j; // splatted constant j (0 coef .. 7 decay)
const at = (off) => [...op.get(O), ...load(off)];
const body = [
  ...Array.from({ length: 8 }, (_, j) => [...op.get(1 + j), ...splat, ...op.set(K(j))]).flat(),
  ...op.get(0), ...op.i32(2), ...op.shl, ...op.set(0), // n -> bytes
  ...op.i32(0), ...op.set(O),
  0x02, 0x40, 0x03, 0x40, // block, loop
  ...op.get(O), ...op.get(0), ...op.geU, 0x0d, 1, // br_if out when o >= bytes
  // The addresses of the three stores below, pushed first (a store takes address, then value). g * coef is
  // recomputed where used (three loads of a cached line) rather than kept in a local.
  ...op.get(O), ...op.get(O), ...op.get(O),
  // m' = m + c1 (g coef - m)
  ...at(M), ...op.get(K(1)), ...at(G), ...op.get(K(0)), ...fmul, ...at(M), ...fsub, ...fmul, ...fadd,
  ...store(M),
  // v' = v beta2 + (c2 g coef) g coef
  ...at(V), ...op.get(K(2)), ...fmul, ...op.get(K(3)), ...at(G), ...op.get(K(0)), ...fmul, ...fmul, ...at(G), ...op.get(K(0)), ...fmul, ...fmul, ...fadd,
  ...store(V),
  // p' = p decay - (stepSize m') / (sqrt(v') invBc2Sqrt + eps), reading m', v' back from memory
  ...at(P), ...op.get(K(7)), ...fmul,
  ...op.get(K(4)), ...at(M), ...fmul,
  ...at(V), ...sqrt, ...op.get(K(5)), ...fmul, ...op.get(K(6)), ...fadd,
  ...fdiv, ...fsub,
  ...store(P),
  ...op.get(O), ...op.i32(16), ...op.add, ...op.set(O),
  0x0c, 0, // br loop
  0x0b, 0x0b, // end loop, end block
  0x0b, // end function
];

function moduleBytes() {
  const type = [0x60, ...vec([[I32], ...Array.from({ length: 8 }, () => [F32])]), 0];
  const locals = vec([[1, I32], [8, V128]]);
  const code = [...locals, ...body];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec([type])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, 4]])), // one memory, 4 pages, no maximum
    ...section(7, vec([[...name('adamw'), 0x00, 0], [...name('memory'), 0x02, 0]])),
    ...section(10, vec([[...uleb(code.length), ...code]])),
  ]);
}

/**
 * The SIMD kernel, or null where WebAssembly SIMD is unavailable. `run(w, g, m, v, ...constants)` updates
 * Float32Arrays in place; `jsTail(w, g, m, v, ...constants)` handles what is left of a chunk past a multiple of 4.
 */
export function simdAdamw(jsTail) {
  let instance;
  try {
    instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
  } catch {
    return null;
  }
  const { adamw, memory } = instance.exports;
  const heap = new Float32Array(memory.buffer);
  const [p, g, m, v] = [0, 1, 2, 3].map((k) => heap.subarray(k * CHUNK, (k + 1) * CHUNK));
  return function run(w, grad, m1, m2, ...k) {
    const n = w.length;
    for (let s = 0; s < n; s += CHUNK) {
      const e = Math.min(n, s + CHUNK);
      const len = (e - s) & ~3;
      if (len > 0) {
        p.set(w.subarray(s, s + len));
        g.set(grad.subarray(s, s + len));
        m.set(m1.subarray(s, s + len));
        v.set(m2.subarray(s, s + len));
        adamw(len, ...k);
        w.set(p.subarray(0, len), s);
        m1.set(m.subarray(0, len), s);
        m2.set(v.subarray(0, len), s);
      }
      if (s + len < e) jsTail(w.subarray(s + len, e), grad.subarray(s + len, e), m1.subarray(s + len, e), m2.subarray(s + len, e), ...k);
    }
  };
}
