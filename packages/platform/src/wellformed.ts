/**
 * Strings as the engine can store them. A JavaScript string may hold a lone UTF-16 surrogate
 * (JSON's "\ud800", or invalid UTF-8 read by a decoder); JSON.stringify writes it as an escape the
 * engine refuses, and one such row makes a whole insert fail. Every text that reaches a table goes
 * through here first (U+FFFD in place of the lone surrogate).
 */
export function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

/** `value` with every string in it (keys included) well-formed; the same object when nothing needed replacing. */
export function wellFormedDeep<T>(value: T): T {
  return fix(value, 0) as T;
}

function fix(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return wellFormed(v);
  if (v === null || typeof v !== 'object' || depth > 64) return v;
  if (Array.isArray(v)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const x = fix(v[i], depth + 1);
      if (x !== v[i]) (out ??= v.slice())[i] = x;
    }
    return out ?? v;
  }
  if (Buffer.isBuffer(v) || v instanceof Date) return v;
  let out: Record<string, unknown> | undefined;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const key = wellFormed(k);
    const fixed = fix(x, depth + 1);
    if (key !== k || fixed !== x) {
      out ??= { ...(v as Record<string, unknown>) };
      if (key !== k) delete out[k];
      out[key] = fixed;
    }
  }
  return out ?? v;
}
