// The graph builder: typed tensors with symbolic dims, node emission, constants, and the tape that reverse-mode
// autodiff (autodiff.ts) walks. Ops live in ops/*.ts, each with its derivative rule beside it. A Graph is generic
// over its float type: the model is built in float32 for real use and float64 for gradient checks.
import { encodeModel, rawBytes } from '../onnx/proto.ts';
import type { AttrValue, DataType, Dim, NodeSpec, TensorInit, ValueInfo } from '../onnx/proto.ts';

export type { DataType, Dim } from '../onnx/proto.ts';
export type FloatType = 'float32' | 'float64';

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DataType,
    readonly shape: readonly Dim[],
    readonly requiresGrad: boolean,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
}

/** Given the gradients of an op's outputs (null where none flows), returns the gradients of its inputs. */
export type Backward = (gradOutputs: (Tensor | null)[]) => (Tensor | null)[];

export interface TapeEntry {
  inputs: Tensor[];
  outputs: Tensor[];
  backward: Backward;
}

export interface ScatterGrad {
  /** int64 [..., 1] row indices. */
  indices: Tensor;
  /** [..., row size] rows added at those indices. */
  updates: Tensor;
  base: Tensor | null;
}

export type Attr = number | number[] | string | AttrValue;

export interface OutSpec {
  dtype: DataType;
  shape: readonly Dim[];
}

/** Opset used when a graph does not ask for another: 21 has everything the engine emits. */
export const DEFAULT_OPSET = 21;
const IR_VERSION: Record<number, number> = { 21: 10, 22: 10, 23: 11, 24: 11 };

function toAttr(a: Attr): AttrValue {
  if (typeof a === 'number') return { kind: 'int', v: a };
  if (typeof a === 'string') return { kind: 'string', v: a };
  if (Array.isArray(a)) return { kind: 'ints', v: a };
  return a;
}

export class Graph {
  readonly tape: TapeEntry[] = [];
  /**
   * Gradients that are rows scatter-added into `base` (zeros when null): the embedding's. Autodiff adds such a
   * gradient into another one by scattering into it (tied embeddings), and a program may output the base and
   * the rows separately so the host does the scatter without copying the whole table.
   */
  readonly scatterGrads = new Map<string, ScatterGrad>();
  private readonly nodes: NodeSpec[] = [];
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly outputSources: string[] = [];
  private readonly inits: TensorInit[] = [];
  private readonly consts = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private counter = 0;
  private noGradDepth = 0;

  constructor(
    readonly float: FloatType = 'float32',
    readonly opset = DEFAULT_OPSET,
  ) {}

  private fresh(prefix: string): string {
    let name: string;
    do name = `${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): void {
    if (this.names.has(name)) throw new Error(`graph: duplicate value name "${name}"`);
    this.names.add(name);
  }

  /** A graph input. Parameters (`requiresGrad`) are what `grad` differentiates with respect to. */
  input(name: string, dtype: DataType, shape: readonly Dim[], requiresGrad = false): Tensor {
    this.claim(name);
    this.inputs.push({ name, dtype, shape: [...shape] });
    return new Tensor(this, name, dtype, shape, requiresGrad);
  }

  /** A trainable input of the graph's float type. */
  param(name: string, shape: readonly Dim[]): Tensor {
    return this.input(name, this.float, shape, true);
  }

  /**
   * Declares `t` as the graph output `name`. At serialisation the producing node's output is renamed (no copy);
   * an Identity is added only when `t` is a graph input, a constant, or already another output.
   */
  output(t: Tensor, name = t.name): void {
    if (name !== t.name) this.claim(name);
    this.outputs.push({ name, dtype: t.dtype, shape: [...t.shape] });
    this.outputSources.push(t.name);
  }

  /** False inside noGrad: ops emitted now are not recorded on the tape. */
  get recording(): boolean {
    return this.noGradDepth === 0;
  }

  /** Runs `fn` without recording anything on the tape (its results carry no gradient). */
  noGrad<T>(fn: () => T): T {
    this.noGradDepth++;
    try {
      return fn();
    } finally {
      this.noGradDepth--;
    }
  }

  /**
   * Emits one node. With a `backward` rule and an input that requires grad, the outputs require grad and the op
   * is recorded on the tape; otherwise the outputs are constants as far as autodiff is concerned.
   */
  apply(op: string, inputs: (Tensor | null)[], attrs: Record<string, Attr>, outs: OutSpec[], backward?: Backward): Tensor[] {
    const live = inputs.filter((t): t is Tensor => t !== null);
    for (const t of live) if (t.graph !== this) throw new Error(`graph: ${op} got a tensor of another graph`);
    const grad = backward !== undefined && this.noGradDepth === 0 && live.some((t) => t.requiresGrad);
    const outputs = outs.map((o) => new Tensor(this, this.fresh(op.slice(op.lastIndexOf('.') + 1).toLowerCase()), o.dtype, o.shape, grad));
    const attrValues: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(attrs)) attrValues[k] = toAttr(v);
    // A qualified name ("com.microsoft.GroupQueryAttention") names a contrib op: domain, then op type.
    const dot = op.lastIndexOf('.');
    this.nodes.push({
      op: op.slice(dot + 1),
      ...(dot > 0 ? { domain: op.slice(0, dot) } : {}),
      inputs: inputs.map((t) => (t === null ? '' : t.name)),
      outputs: outputs.map((t) => t.name),
      name: `n${this.nodes.length}_${op}`,
      attrs: attrValues,
    });
    if (grad) this.tape.push({ inputs: inputs as Tensor[], outputs, backward: backward! });
    return outputs;
  }

  /** Single-output `apply`. */
  apply1(op: string, inputs: (Tensor | null)[], attrs: Record<string, Attr>, out: OutSpec, backward?: Backward): Tensor {
    return this.apply(op, inputs, attrs, [out], backward)[0];
  }

  /**
   * A composite op: `y` was computed from `inputs` under noGrad (so none of its parts are on the tape); from here
   * on it is differentiable, with `backward` giving the gradients of `inputs`.
   */
  attach(y: Tensor, inputs: Tensor[], backward: Backward): Tensor {
    if (this.noGradDepth > 0 || !inputs.some((t) => t.requiresGrad)) return y;
    const out = new Tensor(this, y.name, y.dtype, y.shape, true);
    this.tape.push({ inputs, outputs: [out], backward });
    return out;
  }

  /** A constant (an initializer), shared between identical requests. */
  constant(values: ArrayLike<number>, dtype: DataType, shape: readonly number[]): Tensor {
    const key = `${dtype}|${shape.join(',')}|${Array.from(values).join(',')}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.inits.push({ name, dtype, dims: [...shape], raw: rawBytes(dtype, values) });
    const t = new Tensor(this, name, dtype, shape, false);
    this.consts.set(key, t);
    return t;
  }

  /** A scalar of the graph's float type (or `dtype`). */
  scalar(v: number, dtype: DataType = this.float): Tensor {
    return this.constant([v], dtype, []);
  }

  /** A 1-D int64 constant (axes, shapes, indices). */
  ints(values: readonly number[]): Tensor {
    return this.constant(values, 'int64', [values.length]);
  }

  /** The serialised ModelProto; nodes and inputs that no output depends on are left out. */
  toModel(): Uint8Array {
    const produced = new Set(this.nodes.flatMap((n) => n.outputs));
    const rename = new Map<string, string>();
    const identities: NodeSpec[] = [];
    this.outputs.forEach((o, i) => {
      const src = this.outputSources[i];
      if (src === o.name) return;
      if (produced.has(src) && !rename.has(src) && !this.outputs.some((x) => x.name === src)) rename.set(src, o.name);
      else identities.push({ op: 'Identity', inputs: [src], outputs: [o.name], name: `n_${o.name}`, attrs: {} });
    });
    const r = (x: string) => rename.get(x) ?? x;
    const nodes = [...this.nodes, ...identities].map((n) => ({ ...n, inputs: n.inputs.map(r), outputs: n.outputs.map(r) }));
    const needed = new Set(this.outputs.map((o) => o.name));
    const kept: NodeSpec[] = [];
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if (!n.outputs.some((o) => needed.has(o))) continue;
      kept.push(n);
      for (const x of n.inputs) if (x) needed.add(x);
    }
    kept.reverse();
    const irVersion = IR_VERSION[this.opset];
    if (irVersion === undefined) throw new Error(`graph: unsupported opset ${this.opset}`);
    return encodeModel({
      graphName: 'agentrl',
      nodes: kept,
      inputs: this.inputs.filter((i) => needed.has(i.name)),
      outputs: this.outputs,
      initializers: this.inits.filter((t) => needed.has(t.name)),
      opset: this.opset,
      irVersion,
    });
  }
}
