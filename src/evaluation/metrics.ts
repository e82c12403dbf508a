/**
 * Binary-classification metrics for the evaluation report: confusion matrix, per-class precision /
 * recall, ROC curve and its area, medians. Pure functions over plain arrays, so they are tested
 * against hand-worked examples and agree with `train/faceedge_train/metrics.py`.
 */

/** confusion[trueLabel][predictedLabel] = count. Rows are the true class. */
export type Confusion = Record<string, Record<string, number>>;

export interface ClassMetrics {
  /** Share of predictions of this class that were right; null when the class was never predicted. */
  readonly precision: number | null;
  /** Share of this class's images predicted as it; null when the class has no image. */
  readonly recall: number | null;
  /** Harmonic mean of precision and recall; null when either is null or both are 0. */
  readonly f1: number | null;
  /** Images whose true class this is. */
  readonly support: number;
}

/** An all-zero confusion matrix over `labels`. */
export function emptyConfusion(labels: readonly string[]): Confusion {
  return Object.fromEntries(labels.map((t) => [t, Object.fromEntries(labels.map((p) => [p, 0]))]));
}

/** Counts (true, predicted) pairs. Labels outside `labels` are a programming error and throw. */
export function confusionMatrix(
  labels: readonly string[],
  pairs: Iterable<{ readonly truth: string; readonly predicted: string }>,
): Confusion {
  const matrix = emptyConfusion(labels);
  for (const { truth, predicted } of pairs) {
    const row = matrix[truth];
    if (!row || !(predicted in row)) throw new RangeError(`label outside ${labels.join('/')}: ${truth} → ${predicted}`);
    row[predicted]++;
  }
  return matrix;
}

function ratio(num: number, den: number): number | null {
  return den > 0 ? num / den : null;
}

export function classMetrics(matrix: Confusion, label: string): ClassMetrics {
  const labels = Object.keys(matrix);
  const tp = matrix[label][label];
  const support = labels.reduce((s, p) => s + matrix[label][p], 0);
  const predicted = labels.reduce((s, t) => s + matrix[t][label], 0);
  const precision = ratio(tp, predicted);
  const recall = ratio(tp, support);
  const f1 =
    precision === null || recall === null || precision + recall === 0
      ? null
      : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1, support };
}

/** Correct / total over the matrix; null when it is empty. */
export function accuracy(matrix: Confusion): number | null {
  const labels = Object.keys(matrix);
  let correct = 0;
  let total = 0;
  for (const t of labels) {
    for (const p of labels) {
      total += matrix[t][p];
      if (t === p) correct += matrix[t][p];
    }
  }
  return ratio(correct, total);
}

/** A scored sample: `score` is the probability of the positive class, `positive` the truth. */
export interface ScoredSample {
  readonly score: number;
  readonly positive: boolean;
}

/**
 * Area under the ROC curve as the Mann–Whitney statistic: the probability that a random positive
 * scores above a random negative, ties counting one half. Null when either class is absent.
 */
export function rocAuc(samples: readonly ScoredSample[]): number | null {
  const sorted = [...samples].sort((a, b) => a.score - b.score);
  const positives = sorted.filter((s) => s.positive).length;
  const negatives = sorted.length - positives;
  if (positives === 0 || negatives === 0) return null;
  // Sum of the positives' ranks, with tied scores sharing their average rank.
  let rankSum = 0;
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j < sorted.length && sorted[j].score === sorted[i].score) j++;
    const averageRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (sorted[k].positive) rankSum += averageRank;
    i = j;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface RocPoint {
  /** False-positive rate in [0, 1]. */
  readonly fpr: number;
  /** True-positive rate in [0, 1]. */
  readonly tpr: number;
  /** Lowest score classified positive at this point (Infinity for the (0, 0) corner). */
  readonly threshold: number;
}

/** ROC curve from (0, 0) to (1, 1), one point per distinct score. Empty when a class is absent. */
export function rocCurve(samples: readonly ScoredSample[]): RocPoint[] {
  const sorted = [...samples].sort((a, b) => b.score - a.score);
  const positives = sorted.filter((s) => s.positive).length;
  const negatives = sorted.length - positives;
  if (positives === 0 || negatives === 0) return [];
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Infinity }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length;) {
    const threshold = sorted[i].score;
    // Tied scores move the curve diagonally in one step, as thresholding cannot split them.
    while (i < sorted.length && sorted[i].score === threshold) {
      if (sorted[i].positive) tp++;
      else fp++;
      i++;
    }
    points.push({ fpr: fp / negatives, tpr: tp / positives, threshold });
  }
  return points;
}

/** Median of `values`; null when empty. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
