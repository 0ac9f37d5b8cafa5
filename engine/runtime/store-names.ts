// The names of tensors in the device store, built in one place. Learners and samplers share one store, each
// under its own namespace; a sampler reads a learner's weights through the learner's weight prefix. Keeping
// every name here means a namespace cannot collide with another's by a typo, and a reader finds what a store
// holds without chasing template strings.

let namespaces = 0;

/** A fresh namespace ('<kind><n>/'), unique in the process. */
function namespace(kind: 'learner' | 'sampler'): string {
  return `${kind}${namespaces++}/`;
}

/** Per-parameter tensors of a namespace, keyed by the parameter's Hugging Face name. */
export interface ParamNames {
  /** The tensor for parameter `name`. */
  of(name: string): string;
  /** The tensors for these parameters, in order. */
  all(names: readonly string[]): string[];
}

function params(prefix: string): ParamNames {
  return { of: (name) => prefix + name, all: (names) => names.map((n) => prefix + n) };
}

/** One layer's KV cache and the new keys/values a step writes into it. */
export interface LayerCacheNames {
  keys: string;
  values: string;
  newKeys: string;
  newValues: string;
}

export interface CacheNames {
  layers: LayerCacheNames[];
  /** Every layer's keys and values (what a re-layout or a row swap touches). */
  all: string[];
}

/** A learner's store: weights (at `weightPrefix`), gradients and their parts, and the AdamW moments. */
export interface LearnerNames {
  weights: ParamNames;
  grads: ParamNames;
  /** A later micro-batch's gradients, summed into `grads`. */
  gradParts: ParamNames;
  /** An embedding's gradient rows and their row indices, scatter-added into `grads`. */
  gradRows: ParamNames;
  gradRowIndex: ParamNames;
  moments1: ParamNames;
  moments2: ParamNames;
}

export const storeNames = {
  namespace,
  params,
  /** The weights, gradients and moments of a learner in namespace `ns` (weights at `weightPrefix`, default ns + 'w/'). */
  learner(ns: string, weightPrefix = `${ns}w/`): LearnerNames {
    return {
      weights: params(weightPrefix),
      grads: params(`${ns}grad/`),
      gradParts: params(`${ns}gradpart/`),
      gradRows: params(`${ns}gradrows/`),
      gradRowIndex: params(`${ns}gradrowidx/`),
      moments1: params(`${ns}adam.m/`),
      moments2: params(`${ns}adam.v/`),
    };
  },
  /** A sampler's KV cache in namespace `ns`, one entry per layer. */
  cache(ns: string, layers: number): CacheNames {
    const perLayer = Array.from({ length: layers }, (_, l) => ({ keys: `${ns}kv/k.${l}`, values: `${ns}kv/v.${l}`, newKeys: `${ns}kv/nk.${l}`, newValues: `${ns}kv/nv.${l}` }));
    return { layers: perLayer, all: perLayer.flatMap((l) => [l.keys, l.values]) };
  },
};
