/**
 * Chooses a classifier's decision threshold on validation sets: the probability of the positive label
 * above which a face is positive. CelebA's 0.5 collapses female recall on in-the-wild faces while the
 * ranking (ROC AUC) stays good, so the threshold is fitted on several validation sets, each counting
 * equally, and stored in the model's manifest.
 */

/** One validation image: the model's probability of the positive label and the truth. */
export interface ScoredSample {
  readonly probability: number;
  readonly positive: boolean;
  /** Which validation set it belongs to (each set counts equally, whatever its size). */
  readonly set: string;
}

/** `balanced`: highest mean balanced accuracy; `equal-recall`: the two classes' mean recalls closest. */
export type ThresholdCriterion = 'balanced' | 'equal-recall';

export interface SetScore {
  readonly set: string;
  readonly n: number;
  /** Recall of the negative / positive label at the threshold. */
  readonly recall_negative: number;
  readonly recall_positive: number;
  readonly balanced_accuracy: number;
  readonly accuracy: number;
}

export interface ThresholdChoice {
  readonly threshold: number;
  readonly criterion: ThresholdCriterion;
  /** Mean over sets at the chosen threshold, and at 0.5 for comparison. */
  readonly balanced_accuracy: number;
  readonly balanced_accuracy_at_half: number;
  readonly sets: readonly SetScore[];
  readonly sets_at_half: readonly SetScore[];
}

/** Thresholds are kept inside this range: beyond it a model is broken, not miscalibrated. */
const RANGE: readonly [number, number] = [0.05, 0.95];

/** Number of values in sorted `values` that are < t. */
function countBelow(values: Float64Array, t: number): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface SortedSet {
  readonly set: string;
  readonly negatives: Float64Array;
  readonly positives: Float64Array;
}

function scoreAt(s: SortedSet, t: number): SetScore {
  const negRight = countBelow(s.negatives, t); // negatives decided negative (p < t)
  const posRight = s.positives.length - countBelow(s.positives, t); // positives decided positive (p ≥ t)
  const recallNegative = s.negatives.length ? negRight / s.negatives.length : 1;
  const recallPositive = s.positives.length ? posRight / s.positives.length : 1;
  const n = s.negatives.length + s.positives.length;
  return {
    set: s.set,
    n,
    recall_negative: recallNegative,
    recall_positive: recallPositive,
    balanced_accuracy: (recallNegative + recallPositive) / 2,
    accuracy: (negRight + posRight) / n,
  };
}

const mean = (values: readonly number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The threshold that best meets `criterion` over the sets (ties: the one nearest 0.5). Candidates are
 * the midpoints between consecutive distinct probabilities, so the choice is exact for the data.
 * @throws Error when a set lacks one of the classes (its balanced accuracy would be meaningless).
 */
export function chooseThreshold(
  samples: readonly ScoredSample[],
  criterion: ThresholdCriterion = 'balanced',
): ThresholdChoice {
  const names = [...new Set(samples.map((s) => s.set))];
  const sets: SortedSet[] = names.map((set) => {
    const of = samples.filter((s) => s.set === set);
    const sorted = (positive: boolean) =>
      Float64Array.from(of.filter((s) => s.positive === positive).map((s) => s.probability)).sort();
    return { set, negatives: sorted(false), positives: sorted(true) };
  });
  for (const s of sets) {
    if (s.negatives.length === 0 || s.positives.length === 0)
      throw new Error(`validation set ${s.set} needs images of both classes`);
  }
  const distinct = [...new Set(samples.map((s) => s.probability))].sort((a, b) => a - b);
  const candidates = [0.5];
  for (let i = 1; i < distinct.length; i++) {
    const t = (distinct[i - 1] + distinct[i]) / 2;
    if (t >= RANGE[0] && t <= RANGE[1]) candidates.push(t);
  }
  const objective = (t: number): number => {
    const scores = sets.map((s) => scoreAt(s, t));
    if (criterion === 'balanced') return mean(scores.map((s) => s.balanced_accuracy));
    const gap = Math.abs(mean(scores.map((s) => s.recall_negative)) - mean(scores.map((s) => s.recall_positive)));
    return -gap + 1e-6 * mean(scores.map((s) => s.balanced_accuracy)); // equal gaps: the more accurate
  };
  let best = 0.5;
  let bestValue = objective(0.5);
  for (const t of candidates) {
    const value = objective(t);
    if (
      value > bestValue + 1e-12 ||
      (Math.abs(value - bestValue) <= 1e-12 && Math.abs(t - 0.5) < Math.abs(best - 0.5))
    ) {
      best = t;
      bestValue = value;
    }
  }
  const at = (t: number) => sets.map((s) => scoreAt(s, t));
  return {
    threshold: best,
    criterion,
    balanced_accuracy: mean(at(best).map((s) => s.balanced_accuracy)),
    balanced_accuracy_at_half: mean(at(0.5).map((s) => s.balanced_accuracy)),
    sets: at(best),
    sets_at_half: at(0.5),
  };
}
