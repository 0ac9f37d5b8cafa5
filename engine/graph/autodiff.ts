// Reverse-mode autodiff over the graph's tape (micrograd style): walk the recorded ops backwards from a scalar
// loss, ask each op's own derivative rule for its input gradients, and sum the contributions that reach a
// tensor from several uses. The gradient graph is emitted into the same Graph, so one ONNX model holds the
// forward pass, the backward pass and whatever consumes the gradients (clipping, the optimizer).
import type { ScatterGrad, Tensor } from './graph.ts';
import { add, zerosLike } from './ops/elementwise.ts';

/** Flattens row indices to [n, 1] and rows to [n, width], so two sets of rows can be concatenated. */
function flatRows(r: ScatterGrad): { indices: Tensor; updates: Tensor } {
  const g = r.indices.graph;
  const width = r.updates.shape[r.updates.rank - 1] as number;
  return {
    indices: g.apply1('Reshape', [r.indices, g.ints([-1, 1])], {}, { dtype: 'int64', shape: ['n', 1] }),
    updates: g.apply1('Reshape', [r.updates, g.ints([-1, width])], {}, { dtype: r.updates.dtype, shape: ['n', width] }),
  };
}

/**
 * prev + gi. Rows scatter-added into zeros (an embedding's gradient) are scattered straight into the other
 * gradient; when that one has rows of its own (the head's target rows) the two sets of rows are joined, so a
 * program can still output one dense part plus rows (tied embeddings).
 */
function accumulate(prev: Tensor, gi: Tensor): Tensor {
  const g = gi.graph;
  const rowsOf = (t: Tensor) => {
    const s = g.scatterGrads.get(t.name);
    return s && s.base === null ? s : undefined;
  };
  const [dense, rows] = rowsOf(gi) ? [prev, rowsOf(gi)!] : [gi, rowsOf(prev)];
  if (!rows || rowsOf(dense)) return add(prev, gi);
  const out = g.apply1('ScatterND', [dense, rows.indices, rows.updates], { reduction: 'add' }, { dtype: dense.dtype, shape: dense.shape });
  const own = g.scatterGrads.get(dense.name);
  if (!own) {
    g.scatterGrads.set(out.name, { ...rows, base: dense });
    return out;
  }
  const [a, b] = [flatRows(own), flatRows(rows)];
  const joined = (x: Tensor, y: Tensor) => g.apply1('Concat', [x, y], { axis: 0 }, { dtype: x.dtype, shape: ['n', x.shape[1]] });
  g.scatterGrads.set(out.name, { indices: joined(a.indices, b.indices), updates: joined(a.updates, b.updates), base: own.base });
  return out;
}

/** d loss / d t for each t in `wrt` (zeros where the loss does not depend on t). `loss` must be a scalar. */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  const g = loss.graph;
  if (loss.rank !== 0) throw new Error(`grad: loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
  const grads = new Map<string, Tensor>();
  return g.noGrad(() => {
    grads.set(loss.name, g.scalar(1, loss.dtype));
    for (let i = g.tape.length - 1; i >= 0; i--) {
      const entry = g.tape[i];
      const gouts = entry.outputs.map((o) => grads.get(o.name) ?? null);
      if (gouts.every((x) => x === null)) continue;
      const gins = entry.backward(gouts);
      entry.inputs.forEach((input, j) => {
        const gi = gins[j];
        if (!gi || !input.requiresGrad) return;
        const prev = grads.get(input.name);
        grads.set(input.name, prev ? accumulate(prev, gi) : gi);
      });
    }
    return wrt.map((t) => grads.get(t.name) ?? zerosLike(t));
  });
}
