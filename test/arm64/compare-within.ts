/**
 * Compares two JSON values the way the arm64 parity test needs: the same shape, the same strings,
 * booleans and nulls, and numbers equal within a tolerance that is absolute for values up to 1 (scores,
 * probabilities) and relative beyond (pixel coordinates: one float32 step at 100 px is 7.6e-6, so an
 * absolute 1e-6 there would ask for more than float32 holds). Returns every difference with its path
 * (`images[2].faces.full[0].box.x: 12.3 vs 12.4`), so a failure names what moved, not just "not equal".
 * Generic on purpose: a field added to `classify --json` or to the events is compared without changes here.
 */

/** A JSON value as `JSON.parse` returns it. */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Comparison {
  /** What differs beyond the tolerance (at most `limit` entries). */
  readonly differences: string[];
  /** The largest |a − b| / max(1, |a|, |b|) over all numbers compared (0 when bit-identical). */
  readonly largestDeviation: number;
}

/**
 * Compares `a` and `b`. A number pair is equal when |a − b| ≤ tolerance × max(1, |a|, |b|).
 * @param limit most differences listed. Default 20.
 */
export function compareWithin(a: unknown, b: unknown, tolerance: number, limit = 20): Comparison {
  const state = { differences: [] as string[], largestDeviation: 0 };
  walk(a as Json, b as Json, '', tolerance, limit, state);
  return state;
}

function walk(
  a: Json,
  b: Json,
  path: string,
  tolerance: number,
  limit: number,
  state: { differences: string[]; largestDeviation: number },
): void {
  const differ = (text: string) => {
    if (state.differences.length < limit) state.differences.push(text);
  };
  const where = path || '(root)';
  if (typeof a === 'number' && typeof b === 'number') {
    const deviation = a === b ? 0 : Math.abs(a - b) / Math.max(1, Math.abs(a), Math.abs(b));
    state.largestDeviation = Math.max(state.largestDeviation, Number.isNaN(deviation) ? Infinity : deviation);
    if (!(deviation <= tolerance))
      differ(`${where}: ${a} vs ${b} (deviation ${deviation.toExponential(2)} > ${tolerance})`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) differ(`${where}: ${a.length} items vs ${b.length}`);
    for (let i = 0; i < Math.min(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, tolerance, limit, state);
    return;
  }
  if (isObject(a) && isObject(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const sub = path ? `${path}.${key}` : key;
      if (!(key in a)) differ(`${sub}: missing on the left`);
      else if (!(key in b)) differ(`${sub}: missing on the right`);
      else walk(a[key], b[key], sub, tolerance, limit, state);
    }
    return;
  }
  if (a !== b) differ(`${where}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
}

function isObject(v: Json): v is { [key: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
