// Reverse-mode autodiff over the graph's tape (micrograd style): walk the recorded ops backwards from a scalar
// loss, ask each op's own derivative rule for its input gradients, and sum the contributions that reach a
// tensor from several uses. The gradient graph is emitted into the same Graph, so one ONNX model holds the
// forward pass, the backward pass and whatever consumes the gradients (clipping, the optimizer).
import type { Tensor } from './graph.ts';
import { add, zerosLike } from './ops/elementwise.ts';

/** prev + gi; rows scatter-added into zeros (an embedding's gradient) are scattered straight into the other one. */
function accumulate(prev: Tensor, gi: Tensor): Tensor {
  const g = gi.graph;
  const rowsOf = (t: Tensor) => {
    const s = g.scatterGrads.get(t.name);
    return s && s.base === null ? s : undefined;
  };
  const [dense, rows] = rowsOf(gi) ? [prev, rowsOf(gi)!] : [gi, rowsOf(prev)];
  if (!rows || g.scatterGrads.has(dense.name)) return add(prev, gi);
  const out = g.apply1('ScatterND', [dense, rows.indices, rows.updates], { reduction: 'add' }, { dtype: dense.dtype, shape: dense.shape });
  g.scatterGrads.set(out.name, { ...rows, base: dense });
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
