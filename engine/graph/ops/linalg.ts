// Matrix products with their derivative rules. `linear` is the workhorse of the model: a 2-D Gemm against a
// weight in Hugging Face layout [out, in] whose backward is two more Gemms with transpose flags, so no
// transposed copy of a weight is ever materialised.
import type { Dim, Tensor } from '../graph.ts';
import { broadcastShape, unbroadcast } from './elementwise.ts';
import { transposeLast2 } from './shape.ts';

/** Batched matmul (numpy semantics, both operands of rank >= 2). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error('matmul: operands must have rank >= 2');
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape: Dim[] = [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]];
  return a.graph.apply1('MatMul', [a, b], {}, { dtype: a.dtype, shape }, ([g]) => [
    unbroadcast(matmul(g!, transposeLast2(b)), a),
    unbroadcast(matmul(transposeLast2(a), g!), b),
  ]);
}

type GemmFlags = { transA?: boolean; transB?: boolean };

/** 2-D Gemm with transpose flags: op(a) @ op(b). */
export function gemm(a: Tensor, b: Tensor, flags: GemmFlags = {}): Tensor {
  if (a.rank !== 2 || b.rank !== 2) throw new Error('gemm: operands must be 2-D');
  const tA = flags.transA ?? false;
  const tB = flags.transB ?? false;
  const shape = [tA ? a.shape[1] : a.shape[0], tB ? b.shape[0] : b.shape[1]];
  return a.graph.apply1('Gemm', [a, b], { transA: tA ? 1 : 0, transB: tB ? 1 : 0 }, { dtype: a.dtype, shape }, ([g]) => {
    // C = op(A) op(B): dA = dC op(B)^T (transposed back when A was), dB likewise.
    const ga = tA ? gemm(b, g!, { transA: tB, transB: true }) : gemm(g!, b, { transB: !tB });
    const gb = tB ? gemm(g!, a, { transA: true, transB: tA }) : gemm(a, g!, { transA: !tA });
    return [ga, gb];
  });
}

/** x [N, in] @ W^T for W [out, in] -> [N, out]; backward: dx = g W, dW = g^T x (two Gemms, no weight transpose). */
export function linear(x: Tensor, w: Tensor): Tensor {
  return gemm(x, w, { transB: true });
}
