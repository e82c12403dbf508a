/**
 * Face-verification metrics over scored pairs (cosine similarity of two embeddings, higher = more
 * alike): the standard k-fold accuracy (threshold chosen on the other folds, scored on the held-out
 * one), ROC AUC, and the true-accept rate at a fixed false-accept rate. A pair whose face was not
 * found has no score (`null`): it counts as wrong in accuracy, as a rejection in TAR and FAR, and
 * ranks below every scored pair in the AUC.
 */

/** One scored pair. */
export interface ScoredPair {
  /** Same person. */
  readonly same: boolean;
  /** Cosine similarity in [−1, 1], or null when a face was missing. */
  readonly score: number | null;
  /** Fold index (0-based) for k-fold accuracy, or null without folds. */
  readonly fold: number | null;
}

export interface VerificationSummary {
  readonly pairs: number;
  /** k-fold accuracy when every pair has a fold, else the accuracy at the best threshold on all pairs. */
  readonly accuracy: number;
  /** Standard deviation of the per-fold accuracies (0 without folds). */
  readonly accuracy_std: number;
  readonly auc: number;
  /** True-accept rate at a false-accept rate of at most 1 % and 0.1 %, over all pairs. */
  readonly tar_at_far: { readonly '0.01': number; readonly '0.001': number };
  /** Pairs where a face was not found in one of the two photos (counted as wrong). */
  readonly missing_faces: number;
  /** The threshold that maximizes accuracy over all pairs (what a deployment without folds would use). */
  readonly threshold: number;
}

const MISSING = Number.NEGATIVE_INFINITY;
const scoreOf = (p: ScoredPair): number => p.score ?? MISSING;

/**
 * The similarity threshold (accept when score ≥ threshold) with the highest accuracy on `pairs`: the
 * lowest such, placed midway between the two neighbouring scores so that held-out pairs are not
 * decided by a tie.
 */
export function bestThreshold(pairs: readonly ScoredPair[]): number {
  const scored = pairs.filter((p) => p.score !== null).sort((a, b) => scoreOf(a) - scoreOf(b));
  if (scored.length === 0) return 1;
  // Below every score everything scored is accepted: the scored same-person pairs are right, the
  // different-person pairs wrong (and a missing face is wrong whatever the threshold).
  let correct = scored.filter((p) => p.same).length;
  let best = correct;
  let bestAt = scored[0].score! - 1e-6;
  for (let i = 0; i < scored.length; i++) {
    // raising the threshold past scored[i] rejects it
    correct += scored[i].same ? -1 : 1;
    if (i + 1 < scored.length && scored[i + 1].score === scored[i].score) continue;
    if (correct > best) {
      best = correct;
      bestAt = i + 1 < scored.length ? (scored[i].score! + scored[i + 1].score!) / 2 : scored[i].score! + 1e-6;
    }
  }
  return bestAt;
}

/** Share of pairs decided right at `threshold` (a missing face is wrong). */
export function accuracyAt(pairs: readonly ScoredPair[], threshold: number): number {
  if (pairs.length === 0) return 0;
  const right = pairs.filter((p) => p.score !== null && p.score >= threshold === p.same).length;
  return right / pairs.length;
}

/** ROC AUC of the score for `same` (ties count half); missing scores rank lowest. */
export function rocAuc(pairs: readonly ScoredPair[]): number {
  const pos = pairs.filter((p) => p.same).map(scoreOf);
  const neg = pairs.filter((p) => !p.same).map(scoreOf);
  if (pos.length === 0 || neg.length === 0) return 0;
  const sortedNeg = [...neg].sort((a, b) => a - b);
  const below = (v: number, strict: boolean): number => {
    let lo = 0;
    let hi = sortedNeg.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (strict ? sortedNeg[mid] < v : sortedNeg[mid] <= v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  let sum = 0;
  for (const v of pos) sum += (below(v, true) + below(v, false)) / 2;
  return sum / (pos.length * neg.length);
}

/**
 * True-accept rate at the lowest threshold whose false-accept rate (different-person pairs accepted)
 * is ≤ `far`. Missing scores are never accepted.
 */
export function tarAtFar(pairs: readonly ScoredPair[], far: number): { tar: number; threshold: number } {
  const negatives = pairs.filter((p) => !p.same);
  const positives = pairs.filter((p) => p.same);
  const negScores = negatives
    .filter((p) => p.score !== null)
    .map(scoreOf)
    .sort((a, b) => b - a);
  const allowed = Math.floor(far * negatives.length);
  // Accept strictly above the (allowed+1)-th highest impostor score.
  const threshold = allowed < negScores.length ? nextUp(negScores[allowed]) : Number.NEGATIVE_INFINITY;
  const tar = positives.length
    ? positives.filter((p) => p.score !== null && p.score >= threshold).length / positives.length
    : 0;
  return { tar, threshold };
}

function nextUp(v: number): number {
  return v + Math.max(1e-9, Math.abs(v) * 1e-9);
}

/** The `faceedge faces verify` summary of scored pairs. */
export function summarizeVerification(pairs: readonly ScoredPair[]): VerificationSummary {
  const folds = [...new Set(pairs.map((p) => p.fold))];
  const kFold = pairs.length > 0 && folds.length > 1 && folds.every((f) => f !== null);
  let accuracy: number;
  let std = 0;
  if (kFold) {
    const perFold = folds.map((f) => {
      const threshold = bestThreshold(pairs.filter((p) => p.fold !== f));
      return accuracyAt(
        pairs.filter((p) => p.fold === f),
        threshold,
      );
    });
    accuracy = perFold.reduce((a, b) => a + b, 0) / perFold.length;
    std = Math.sqrt(perFold.reduce((a, b) => a + (b - accuracy) ** 2, 0) / perFold.length);
  } else {
    accuracy = accuracyAt(pairs, bestThreshold(pairs));
  }
  return {
    pairs: pairs.length,
    accuracy,
    accuracy_std: std,
    auc: rocAuc(pairs),
    tar_at_far: { '0.01': tarAtFar(pairs, 0.01).tar, '0.001': tarAtFar(pairs, 0.001).tar },
    missing_faces: pairs.filter((p) => p.score === null).length,
    threshold: bestThreshold(pairs),
  };
}
