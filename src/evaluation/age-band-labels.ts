/**
 * Age band labels read back as ages. The labels a model's manifest lists (`0-12`, `13-19`, …, `60+`) are the one
 * definition of the bands that training and `faceedge eval` share: `train/faceedge_train/datasets/age_bands.py`
 * (`band_range`, `band_of`) reads them the same way, so an estimate in years is binned exactly as the training
 * photos were.
 */
import { FaceedgeError } from '../errors.js';

/** First and last age of a band, years; `last` null for an open band (`60+`). */
export interface BandRange {
  readonly first: number;
  readonly last: number | null;
}

const BAND = /^(\d+)-(\d+)$|^(\d+)\+$/;

/** `"30-44"` → { first: 30, last: 44 }, `"60+"` → { first: 60, last: null }. Throws MODEL_INVALID otherwise. */
export function bandRange(label: string): BandRange {
  const match = BAND.exec(label);
  if (!match) throw new FaceedgeError('MODEL_INVALID', `"${label}" is not an age band (expected "A-B" or "A+")`);
  if (match[3] !== undefined) return { first: Number(match[3]), last: null };
  const [first, last] = [Number(match[1]), Number(match[2])];
  if (last < first) throw new FaceedgeError('MODEL_INVALID', `age band "${label}" ends before it starts`);
  return { first, last };
}

/**
 * The band of `labels` that holds `years`. Ages are counted in completed years, as UTKFace labels them: 29.6
 * is 29, in `20-29`. An age outside every band falls in the nearest one (a model without `0-12` can only answer
 * `13-19` for a child). Throws MODEL_INVALID when a label is not a band.
 */
export function bandOf(years: number, labels: readonly string[]): string {
  const completed = Math.floor(years);
  const ranges = labels.map((label) => ({ label, ...bandRange(label) }));
  const inside = ranges.find((r) => completed >= r.first && (r.last === null || completed <= r.last));
  if (inside) return inside.label;
  const distance = (r: (typeof ranges)[number]) =>
    completed < r.first ? r.first - completed : completed - (r.last ?? completed);
  return ranges.reduce((best, r) => (distance(r) < distance(best) ? r : best)).label;
}

/** Whether every label reads as an age band (the labels an anchor in years can be binned into). */
export function areAgeBands(labels: readonly string[]): boolean {
  return labels.length > 0 && labels.every((label) => BAND.test(label));
}
