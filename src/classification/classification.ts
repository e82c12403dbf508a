/**
 * What a classifier says about one face, for any number of labels: the probability of every label and
 * the decided label. Two labels come from a one-output model (the probability of `labels[1]`) decided by
 * the manifest's `threshold`, exactly as before N classes; three or more come from N logits, with
 * softmax(logits / temperature), decided by the largest probability unless it is below the model's
 * unsure floor (then {@link UNSURE_LABEL}).
 */

/** The label of a face the model cannot tell (below the unsure floor, or inside the tracker's unsure band). */
export const UNSURE_LABEL = 'unknown';

export interface Classification {
  /**
   * Decided label. Two labels: `labels[1]` when `probability` ≥ the model's threshold, else `labels[0]`.
   * Three or more: the label with the largest probability, or `unknown` when that is below `unsure_floor`.
   */
  readonly label: string;
  /**
   * Confidence of the decided label. Two labels: in [0.5, 1] on the model's calibrated scale,
   * sigmoid(|logit|), so a face exactly at the decision threshold has 0.5. Three or more: the largest
   * probability (also when the label is `unknown`).
   */
  readonly confidence: number;
  /** Two labels: the model's raw output, the probability of `labels[1]` (e.g. male). Three or more: the largest. */
  readonly probability: number;
  /**
   * Two labels: decision log-odds of `labels[1]`, log(p / (1 − p)) − log(t / (1 − t)) for threshold t,
   * clamped to ±12; 0 is the threshold. Three or more: the log-odds of the largest probability.
   */
  readonly logit: number;
  /** Probability of each label, in the manifest's order (two labels: [1 − p, p]); sums to 1. */
  readonly probabilities: readonly number[];
  /**
   * What a track averages, one per label, in log space: two labels [0, logit]; three or more the log of
   * each probability, clamped at −12 (one frame never vetoes a class). Their size-weighted mean through
   * softmax is the track's probability vector (for two labels exactly today's sigmoid of the mean logit).
   */
  readonly scores: readonly number[];
  /** Three or more labels: the model's logits (dequantized, before the temperature). */
  readonly logits?: readonly number[];
}

export const LOGIT_LIMIT = 12;
const logOdds = (p: number) => Math.log(p / (1 - p));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const clampLogit = (x: number) => Math.max(-LOGIT_LIMIT, Math.min(LOGIT_LIMIT, x));

/** The two-label decision for a probability of `labels[1]` under a threshold (default 0.5). */
export function toClassification(labels: readonly string[], probability: number, threshold = 0.5): Classification {
  const p = Math.min(1, Math.max(0, probability));
  const logit = clampLogit(logOdds(p) - logOdds(threshold));
  const positive = logit >= 0;
  return {
    label: labels[positive ? 1 : 0],
    confidence: sigmoid(Math.abs(logit)),
    probability: p,
    logit,
    probabilities: [1 - p, p],
    scores: [0, logit],
  };
}

/** log-softmax of `values`, computed stably (the largest value shifted to 0). */
export function logSoftmax(values: readonly number[]): number[] {
  const max = Math.max(...values);
  const logSum = Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
  return values.map((v) => v - max - logSum);
}

/** softmax of `values` (probabilities summing to 1). */
export function softmax(values: readonly number[]): number[] {
  return logSoftmax(values).map(Math.exp);
}

/** Index of the largest value (the first on ties). */
export function argmax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Settings of an N-class decision, from the manifest. */
export interface SoftmaxDecision {
  /** Logits are divided by it before the softmax (fitted on validation). Default 1. */
  readonly temperature?: number;
  /** Below this largest probability the label is `unknown`. Default 0 (always the argmax). */
  readonly unsureFloor?: number;
}

/** The decision for N ≥ 3 logits of `labels` (softmax with temperature, argmax, unsure floor). */
export function toSoftmaxClassification(
  labels: readonly string[],
  logits: readonly number[],
  { temperature = 1, unsureFloor = 0 }: SoftmaxDecision = {},
): Classification {
  const logProbabilities = logSoftmax(logits.map((z) => z / temperature));
  const probabilities = logProbabilities.map(Math.exp);
  const top = argmax(probabilities);
  const p = probabilities[top];
  return {
    label: p < unsureFloor ? UNSURE_LABEL : labels[top],
    confidence: p,
    probability: p,
    logit: clampLogit(logOdds(Math.min(1 - 1e-7, Math.max(1e-7, p)))),
    probabilities,
    scores: logProbabilities.map((l) => Math.max(-LOGIT_LIMIT, l)),
    logits: [...logits],
  };
}
