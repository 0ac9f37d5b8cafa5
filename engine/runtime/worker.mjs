// The device thread: owns onnxruntime sessions and a store of named tensors (weights, optimizer moments, KV
// caches) so that big state stays where the sessions run. `session.run` blocks its thread, which is why it runs
// here and not on the event loop. Plain JavaScript so that it loads without any TypeScript loader; the protocol
// is typed on the other side, in device.ts.
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { simdAdamw } from './adamw-simd.mjs';

const options = workerData ?? {};
const sessions = new Map();
const store = new Map();
let nextSession = 1;

function toTensor(v) {
  return new ort.Tensor(v.dtype, v.data, v.shape);
}

function fromTensor(t) {
  return { dtype: t.type, shape: [...t.dims], data: t.data };
}

function stored(name) {
  const v = store.get(name);
  if (!v) throw new Error(`device: no stored tensor "${name}"`);
  return v;
}

async function load({ bytes, graphOptimizationLevel }) {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: options.executionProviders ?? ['cpu'],
    intraOpNumThreads: options.threads ?? 0,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: graphOptimizationLevel ?? options.graphOptimizationLevel ?? 'all',
    logSeverityLevel: 3,
    // AGENTRL_ORT_PROFILE=<path prefix>: onnxruntime's per-kernel profile, one JSON file per session, written when the session is released.
    ...(process.env.AGENTRL_ORT_PROFILE ? { enableProfiling: true, profileFilePrefix: process.env.AGENTRL_ORT_PROFILE } : {}),
  });
  const id = nextSession++;
  sessions.set(id, session);
  return { session: id, inputs: session.inputNames, outputs: session.outputNames };
}

async function run({ session, feeds, fetches }) {
  const s = sessions.get(session);
  if (!s) throw new Error(`device: no session ${session}`);
  const inputs = {};
  for (const [name, v] of Object.entries(feeds)) inputs[name] = toTensor(typeof v === 'string' ? stored(v) : 'stored' in v ? leadingRows(stored(v.stored), v.rows) : v);
  const result = await s.run(inputs, Object.keys(fetches));
  const returned = {};
  const transfer = new Set();
  for (const [name, dest] of Object.entries(fetches)) {
    const v = fromTensor(result[name]);
    if (dest === null) {
      returned[name] = v;
      transfer.add(v.data.buffer);
    } else {
      store.set(dest, v);
    }
  }
  return { value: returned, transfer: [...transfer] };
}

// The first `rows` rows (axis 0) of a stored tensor, as a view of its memory (no copy).
function leadingRows(t, rows) {
  if (!(Number.isInteger(rows) && rows >= 0 && rows <= t.shape[0])) throw new Error(`device: ${rows} leading rows of a tensor with ${t.shape[0]}`);
  const size = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return { dtype: t.dtype, shape: [rows, ...t.shape.slice(1)], data: t.data.subarray(0, rows * size) };
}

// Swaps rows (axis 0) of stored tensors in place, pair by pair; or, with `copy`, copies row a over row b.
function swapRows({ names, pairs, copy }) {
  for (const name of names) {
    const t = stored(name);
    const size = t.shape.slice(1).reduce((a, b) => a * b, 1);
    const tmp = new t.data.constructor(copy ? 0 : size);
    for (const [a, b] of pairs) {
      if (!(a >= 0 && b >= 0 && a < t.shape[0] && b < t.shape[0])) throw new Error(`device: rows ${a} and ${b} of "${name}" (${t.shape[0]} rows)`);
      if (copy) {
        t.data.copyWithin(b * size, a * size, (a + 1) * size);
        continue;
      }
      tmp.set(t.data.subarray(a * size, (a + 1) * size));
      t.data.copyWithin(a * size, b * size, (b + 1) * size);
      t.data.set(tmp, b * size);
    }
  }
  return { value: null, transfer: [] };
}

// KV-cache write-back: rows of `src` ([B, H, T, D], or [B, H, D, T] when `keysTransposed`) land in the cache
// `dst` ([B, H, S, D], or [B, H, D, S]) at per-token slots `slots` ([B * T], -1 = skip). One message carries
// every layer's keys and values.
function writeSlots({ writes, slots, rows }) {
  for (const w of writes) writeSlotsOne(w.dst, w.src, slots, rows, w.keysTransposed);
  return { value: null, transfer: [] };
}

// Writes the new keys/values of row b of `src` (T tokens) into row rows[b] of the cache `dst` (row b without
// `rows`) at the slots slots[b * T + t] (-1: nothing to write).
function writeSlotsOne(dst, src, slots, rows, keysTransposed) {
  const cache = stored(dst);
  const part = stored(src);
  const [B, H] = cache.shape;
  const D = keysTransposed ? cache.shape[2] : cache.shape[3];
  const S = keysTransposed ? cache.shape[3] : cache.shape[2];
  const T = keysTransposed ? part.shape[3] : part.shape[2];
  const c = cache.data;
  const p = part.data;
  for (let b = 0; b < part.shape[0]; b++) {
    const row = rows ? rows[b] : b;
    if (!(row >= 0 && row < B)) throw new Error(`device: cache row ${row} outside the cache's ${B} rows`);
    for (let t = 0; t < T; t++) {
      const slot = slots[b * T + t];
      if (slot < 0) continue;
      if (slot >= S) throw new Error(`device: slot ${slot} outside cache capacity ${S}`);
      for (let h = 0; h < H; h++) {
        const from = b * H + h;
        const to = row * H + h;
        if (keysTransposed) {
          for (let d = 0; d < D; d++) c[(to * D + d) * S + slot] = p[(from * D + d) * T + t];
        } else {
          c.set(p.subarray((from * T + t) * D, (from * T + t + 1) * D), (to * S + slot) * D);
        }
      }
    }
  }
}

// Re-lays out a KV cache for a new slot capacity (and, with `rows`, a new row order / subset; -1 = empty row).
function resizeSlots({ name, capacity, rows, keysTransposed }) {
  const old = stored(name);
  const [B, H] = old.shape;
  const D = keysTransposed ? old.shape[2] : old.shape[3];
  const S = keysTransposed ? old.shape[3] : old.shape[2];
  const order = rows ?? Array.from({ length: B }, (_, i) => i);
  const shape = keysTransposed ? [order.length, H, D, capacity] : [order.length, H, capacity, D];
  const data = new old.data.constructor(order.length * H * D * capacity);
  const keep = Math.min(S, capacity);
  order.forEach((src, b) => {
    if (src < 0) return;
    for (let h = 0; h < H; h++) {
      const from = src * H + h;
      const to = b * H + h;
      if (keysTransposed) {
        for (let d = 0; d < D; d++) data.set(old.data.subarray((from * D + d) * S, (from * D + d) * S + keep), (to * D + d) * capacity);
      } else {
        data.set(old.data.subarray(from * S * D, (from * S + keep) * D), to * capacity * D);
      }
    }
  });
  store.set(name, { dtype: old.dtype, shape, data });
  return { value: null, transfer: [] };
}

// into += from, in place (gradient accumulation over micro-batches); returns the sum of squares of the results.
function accumulate({ pairs }) {
  let sumSq = 0;
  for (const [into, from] of pairs) {
    const a = stored(into).data;
    const b = stored(from).data;
    if (a.length !== b.length) throw new Error(`device: accumulate ${from} into ${into}: sizes differ`);
    for (let i = 0; i < a.length; i++) {
      const x = a[i] + b[i];
      a[i] = x;
      sumSq += x * x;
    }
  }
  return { value: sumSq, transfer: [] };
}

// Adds gradient rows ([n, width], at int64 row indices [n], duplicates adding up) into the stored [rows, width]
// tensor `into` (zeros shaped like `like` when absent); returns how much its sum of squares changed.
function scatterRows({ into, rows, index, like }) {
  const dst = zerosLike(into, stored(like));
  const width = stored(like).shape[1];
  const upd = stored(rows).data;
  const idx = stored(index).data;
  // Row numbers from the low words of the int64 indices (little-endian, all below 2^31): reading a
  // BigInt64Array allocates a BigInt per element.
  const low = new Int32Array(idx.buffer, idx.byteOffset, idx.length * 2);
  const at = new Int32Array(idx.length);
  const seen = new Uint8Array(dst.length / width);
  const touched = [];
  for (let i = 0; i < at.length; i++) {
    const r = low[2 * i];
    at[i] = r;
    if (seen[r] === 0) {
      seen[r] = 1;
      touched.push(r);
    }
  }
  const before = rowsNormSq(dst, touched, width);
  addRows(dst, upd, at, width);
  return { value: rowsNormSq(dst, touched, width) - before, transfer: [] };
}

// dst[at[i]] += upd[i] for rows of `width`.
function addRows(dst, upd, at, width) {
  for (let i = 0; i < at.length; i++) {
    const base = at[i] * width;
    const from = i * width;
    for (let k = 0; k < width; k++) dst[base + k] += upd[from + k];
  }
}

// Sum of squares of the listed rows of a [rows, width] tensor.
function rowsNormSq(t, rowList, width) {
  let s = 0;
  for (const r of rowList) {
    for (let k = r * width, end = k + width; k < end; k++) s += t[k] * t[k];
  }
  return s;
}

function zerosLike(name, like) {
  if (!store.has(name)) store.set(name, { dtype: like.dtype, shape: [...like.shape], data: new like.data.constructor(like.data.length) });
  return stored(name).data;
}

// One AdamW update of a tensor, in place (torch.optim.AdamW: decoupled decay, then the bias-corrected step).
// Every constant is a parameter so that the loop keeps them in registers (closure constants are reloaded).
function adamwKernel(w, g, m, v, coef, c1, beta2, c2, stepSize, invBc2Sqrt, eps, decay) {
  const n = w.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i] * coef;
    const m0 = m[i];
    const mi = m0 + c1 * (gi - m0);
    const vi = v[i] * beta2 + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i] * decay - (stepSize * mi) / (Math.sqrt(vi) * invBc2Sqrt + eps);
  }
}

// The same update as a WebAssembly SIMD kernel for f32 tensors (faster: docs/BENCHMARKS.md, "Engine design measurements"), when the runtime has SIMD.
const adamwF32 = simdAdamw(adamwKernel);

// Global-norm clipping and AdamW over stored tensors, one fused pass per tensor, in place: an ONNX AdamW costs
// ~15 memory passes plus a copy of every output. `sumSq` is the squared global gradient norm (from the gradient
// program or the last accumulate). Skips everything when the norm is not finite. Moments that do not exist yet
// start at zero.
function adamw({ params, grads, moments1, moments2, lr, beta1, beta2, eps, weightDecay, step, maxNorm, sumSq }) {
  const gradNorm = Math.sqrt(sumSq);
  if (!Number.isFinite(gradNorm)) return { value: { gradNorm, skipped: true }, transfer: [] };
  const coef = maxNorm > 0 ? Math.min(1, maxNorm / (gradNorm + 1e-6)) : 1;
  const stepSize = lr / (1 - beta1 ** step);
  const invBc2Sqrt = 1 / Math.sqrt(1 - beta2 ** step);
  params.forEach((name, j) => {
    const p = stored(name);
    const kernel = adamwF32 && p.data instanceof Float32Array ? adamwF32 : adamwKernel;
    kernel(p.data, stored(grads[j]).data, zerosLike(moments1[j], p), zerosLike(moments2[j], p), coef, 1 - beta1, beta2, 1 - beta2, stepSize, invBc2Sqrt, eps, 1 - lr * weightDecay);
  });
  return { value: { gradNorm, skipped: false }, transfer: [] };
}

const commands = {
  load: async (msg) => ({ value: await load(msg), transfer: [] }),
  run,
  put: async ({ name, value }) => {
    store.set(name, value);
    return { value: null, transfer: [] };
  },
  get: async ({ names }) => {
    const out = names.map((n) => {
      const v = stored(n);
      return { dtype: v.dtype, shape: [...v.shape], data: v.data.slice() };
    });
    return { value: out, transfer: out.map((v) => v.data.buffer) };
  },
  drop: async ({ names }) => {
    for (const n of names) store.delete(n);
    return { value: null, transfer: [] };
  },
  rename: async ({ pairs }) => {
    const moved = pairs.map(([from]) => stored(from));
    pairs.forEach(([from]) => store.delete(from));
    pairs.forEach(([, to], i) => store.set(to, moved[i]));
    return { value: null, transfer: [] };
  },
  writeSlots: async (msg) => writeSlots(msg),
  accumulate: async (msg) => accumulate(msg),
  scatterRows: async (msg) => scatterRows(msg),
  swapRows: async (msg) => swapRows(msg),
  adamw: async (msg) => adamw(msg),
  resizeSlots: async (msg) => resizeSlots(msg),
  release: async ({ session }) => {
    const s = sessions.get(session);
    sessions.delete(session);
    if (s && process.env.AGENTRL_ORT_PROFILE) s.endProfiling();
    if (s) await s.release();
    return { value: null, transfer: [] };
  },
};

// One command at a time, in arrival order: a run never sees the store half-way through another command.
let queue = Promise.resolve();
parentPort.on('message', (msg) => {
  queue = queue.then(async () => {
    try {
      const fn = commands[msg.cmd];
      if (!fn) throw new Error(`device: unknown command ${msg.cmd}`);
      const { value, transfer } = await fn(msg);
      parentPort.postMessage({ id: msg.id, ok: true, value }, transfer);
    } catch (err) {
      parentPort.postMessage({ id: msg.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  });
});
