// JSON with object keys sorted at every level, so equal values hash equally whatever order their keys were set in.
// Values JSON cannot round-trip exactly (NaN, Infinity, class instances, functions) are refused rather than
// silently turned into null or {}: a hash or a saved state must mean exactly what was given. Keys whose value
// is undefined are left out, as JSON.stringify does.

/** The canonical text of `value`; `indent` > 0 pretty-prints and ends with a newline (for files people read). */
export function canonicalJson(value: unknown, indent = 0): string {
  return JSON.stringify(normalise(value, '$'), null, indent) + (indent ? '\n' : '');
}

function normalise(v: unknown, path: string): unknown {
  if (v === null || v === undefined || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`${path}: ${v} cannot be stored in JSON`);
    return v;
  }
  if (Array.isArray(v)) return v.map((x, i) => normalise(x, `${path}[${i}]`));
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .filter((k) => o[k] !== undefined)
        .map((k) => [k, normalise(o[k], `${path}.${k}`)]),
    );
  }
  throw new Error(`${path}: ${typeof v} values cannot be stored in JSON`);
}
