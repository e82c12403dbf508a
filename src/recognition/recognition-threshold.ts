/**
 * The cosine similarity a name needs on this board: the embedder's manifest threshold (chosen for its
 * `recognition.far` on validation pairs), or a stricter one measured for a lower false-accept rate when the
 * site asks for it (`recognition.far` in the board's config). A rate no threshold was measured for is
 * refused at start: guessing a threshold would state a false-accept rate nobody measured.
 */
import { FaceedgeError } from '../errors.js';

/** A threshold measured for a false-accept rate, as listed in the manifest's `recognition.stricter`. */
export interface MeasuredThreshold {
  /** False-accept rate per comparison on the validation pairs. */
  readonly far: number;
  /** Cosine similarity chosen for it. */
  readonly threshold: number;
}

/** The manifest's `recognition` block, as far as thresholds go. */
export interface ManifestRecognition {
  readonly threshold: number;
  readonly far: number;
  /** Optional: thresholds measured for lower rates than `far` (same pairs, same tool). */
  readonly stricter?: unknown;
}

/** Rates closer than this (relative) count as the same rate (0.001 written as 1e-3 or 0.0010). */
const SAME_RATE = 1e-6;

function measuredList(stricter: unknown): MeasuredThreshold[] {
  if (!Array.isArray(stricter)) return [];
  return stricter.filter(
    (e): e is MeasuredThreshold =>
      typeof e === 'object' &&
      e !== null &&
      typeof (e as MeasuredThreshold).far === 'number' &&
      typeof (e as MeasuredThreshold).threshold === 'number',
  );
}

/**
 * The threshold for the site's false-accept rate `far` (absent: the manifest's own). Of the measured
 * thresholds, the loosest whose rate is at or below `far` is taken. Throws CONFIG_INVALID for a rate above
 * the manifest's, or below it with no measured threshold at or below it.
 */
export function recognitionThreshold(recognition: ManifestRecognition, far?: number): MeasuredThreshold {
  const own = { far: recognition.far, threshold: recognition.threshold };
  if (far === undefined || Math.abs(far - own.far) <= SAME_RATE * own.far) return own;
  if (far > own.far) {
    throw new FaceedgeError(
      'CONFIG_INVALID',
      `recognition.far ${far} is above the embedder's measured rate ${own.far}: a site can only tighten it`,
      { hint: `leave recognition.far out, or set it to ${own.far} or lower` },
    );
  }
  const candidates = measuredList(recognition.stricter)
    .filter((m) => m.far <= far * (1 + SAME_RATE))
    .sort((a, b) => b.far - a.far);
  const chosen = candidates[0];
  if (!chosen) {
    const offered = [own.far, ...measuredList(recognition.stricter).map((m) => m.far)].join(', ');
    throw new FaceedgeError(
      'CONFIG_INVALID',
      `recognition.far ${far}: the embedder's manifest has no threshold measured for that rate or a lower one`,
      { hint: `measured rates: ${offered}; choose one of them, or measure a threshold with faceedge faces verify` },
    );
  }
  return chosen;
}
