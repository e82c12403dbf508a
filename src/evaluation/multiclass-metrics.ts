/**
 * The metrics a model of three or more labels adds to the evaluation: macro-averaged recall,
 * expected calibration error of its confidence, for ordered labels (age bands) the share of predictions
 * off by more than one step, and what its unsure floor would leave unanswered. Pure functions over
 * plain arrays; they follow `train/faceedge_train/metrics.py` (15 equal-width bins for the ECE).
 */
import type { ClassMetrics } from './metrics.js';

/** Bins of the calibration error: equal-width confidence intervals over [0, 1]. */
export const ECE_BINS = 15;

/** Mean of the per-class recalls over the classes that have images; null when none has. */
export function macroRecall(perClass: Readonly<Record<string, ClassMetrics>>): number | null {
  const recalls = Object.values(perClass)
    .map((m) => m.recall)
    .filter((r): r is number => r !== null);
  return recalls.length > 0 ? recalls.reduce((a, b) => a + b, 0) / recalls.length : null;
}

/**
 * Expected calibration error: Σ over bins of (share of samples in the bin) × |accuracy − mean
 * confidence| in it, with the confidence of the decided label. 0 for a perfectly calibrated model.
 */
export function expectedCalibrationError(
  samples: readonly { readonly confidence: number; readonly correct: boolean }[],
  bins = ECE_BINS,
): number | null {
  if (samples.length === 0) return null;
  const count = new Array<number>(bins).fill(0);
  const confidenceSum = new Array<number>(bins).fill(0);
  const correctSum = new Array<number>(bins).fill(0);
  for (const s of samples) {
    // Bin k holds [k/bins, (k+1)/bins), the last one with 1, as metrics.py bins them.
    const k = Math.min(bins - 1, Math.max(0, Math.floor(s.confidence * bins)));
    count[k]++;
    confidenceSum[k] += s.confidence;
    correctSum[k] += s.correct ? 1 : 0;
  }
  let ece = 0;
  for (let k = 0; k < bins; k++) {
    if (count[k] > 0) ece += Math.abs(correctSum[k] - confidenceSum[k]) / samples.length;
  }
  return ece;
}

/** For ordered labels: the share of pairs whose predicted label is more than one step from the true one. */
export function offByMoreThanOne(
  labels: readonly string[],
  pairs: readonly { readonly truth: string; readonly predicted: string }[],
): number | null {
  if (pairs.length === 0) return null;
  const far = pairs.filter((p) => Math.abs(labels.indexOf(p.predicted) - labels.indexOf(p.truth)) > 1).length;
  return far / pairs.length;
}

/** What the model's unsure floor does on the evaluated faces (`unknown` below it, in events). */
export interface UnsureReport {
  /** The manifest's `unsure_floor`. */
  readonly floor: number;
  /** Share of classified faces whose largest probability reaches the floor (the daemon would name a label). */
  readonly answered: number | null;
  /** Accuracy over those answered faces. */
  readonly accuracy_answered: number | null;
}

/** The unsure floor's effect on classified faces, each with its decided label's probability. */
export function unsureReport(
  floor: number,
  samples: readonly { readonly confidence: number; readonly correct: boolean }[],
): UnsureReport {
  const answered = samples.filter((s) => s.confidence >= floor);
  return {
    floor,
    answered: samples.length > 0 ? answered.length / samples.length : null,
    accuracy_answered: answered.length > 0 ? answered.filter((s) => s.correct).length / answered.length : null,
  };
}
