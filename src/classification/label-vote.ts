/**
 * One model's vote over the frames of one tracked face: the size-weighted mean of the per-frame scores
 * (`Classification.scores`), the best single-frame probability of each label, and the decision with its
 * unsure band. A track holds one vote per model (issue 24 §3); the tracker decides when frames count. A model
 * shipped as a pair with a head on the face embedding is decided together with the head's value for the track
 * once it has one (src/classification/paired-decision.ts).
 */
import { argmax, softmax, UNSURE_LABEL } from './classification.js';
import { pairedDecision, pairedProbabilities, type DecisionSource, type PairingRules } from './paired-decision.js';

/** How a vote decides: the model's labels and the tracker's thresholds (these may change at run time). */
export interface VoteRules {
  /** The model's labels, in its output order (two: [negative, positive]). */
  readonly labels: readonly string[];
  /** Three or more labels: the model's unsure floor (manifest `unsure_floor`). Ignored for two. */
  readonly unsureFloor?: number;
  /** Confidence margin a class change needs (see TrackerOptions.hysteresis). */
  readonly hysteresis: number;
  /** Unsure band above 0.5 (two labels) or above the unsure floor (more) (see TrackerOptions.unsureMargin). */
  readonly unsureMargin: number;
  /** The model has a head on the embedding: how the pair decides once the track has the head's value. */
  readonly pairing?: PairingRules;
}

/** A vote's decision now. */
export interface VoteDecision {
  /** The decided label, or `unknown` inside the unsure band. */
  readonly label: string;
  /** Index of the most probable label (also when the label is `unknown`). */
  readonly side: number;
  /** Probability of that label, in [0, 1] (two labels: never below 0.5). */
  readonly confidence: number;
  /** A paired model (`rules.pairing`): whether the pair decided, or the image model alone. Else absent. */
  readonly source?: DecisionSource;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** One frame's probability of each label from its scores: for two labels exactly the sigmoid of the logit. */
function probabilitiesOf(scores: readonly number[]): number[] {
  if (scores.length !== 2) return softmax(scores);
  const p = sigmoid(scores[1] - scores[0]);
  return [1 - p, p];
}

/**
 * Confidence from which a vote's class counts as clear (hysteresis for a class change, and the
 * classification cadence): 0.5 + `hysteresis` for two labels; for more, the larger of the model's
 * unsure floor and 1 / N (a uniform guess), + `hysteresis`.
 */
export function clearConfidence(rules: VoteRules): number {
  const n = rules.labels.length;
  const base = n === 2 ? 0.5 : Math.max(rules.unsureFloor ?? 0, 1 / n);
  return base + rules.hysteresis;
}

export class LabelVote {
  /** Frames that carried this model's classification, and the frame time (ms) of the last one. */
  classified = 0;
  classifiedAtMs = -Infinity;
  /** Size-weighted sums of the per-label scores (two labels: [0, Σ w·logit]). */
  readonly #weightedScoreSums: number[];
  #weightSum = 0;
  /** Best single-frame probability of each label (two labels: calibrated, 0.5 at the threshold). */
  readonly #topProbability: number[];
  /** The head's log-probabilities for this track (a paired model, recognition on), once it has them. */
  #head: readonly number[] | null = null;

  /** A vote over `labels` labels with no frame yet. */
  constructor(labels: number) {
    this.#weightedScoreSums = new Array<number>(labels).fill(0);
    this.#topProbability = new Array<number>(labels).fill(0);
  }

  /** Counts one frame's scores (one per label, log space) with `weight` (the tracker weighs by face size). */
  add(scores: readonly number[], weight: number, nowMs: number): void {
    this.classified++;
    this.classifiedAtMs = nowMs;
    scores.forEach((s, i) => (this.#weightedScoreSums[i] += weight * s));
    this.#weightSum += weight;
    probabilitiesOf(scores).forEach((p, i) => (this.#topProbability[i] = Math.max(this.#topProbability[i], p)));
  }

  /**
   * The head's log-probabilities for this track (its embedding's, one per label): from now on a paired model
   * is decided by the pair. A later value (a new embedding of the track) replaces it.
   */
  pair(headLogProbabilities: readonly number[]): void {
    if (headLogProbabilities.length !== this.#topProbability.length)
      throw new RangeError(`${headLogProbabilities.length} head values for a vote of ${this.#topProbability.length}`);
    this.#head = [...headLogProbabilities];
  }

  /** Best single-frame probability of label `side` so far. */
  topProbability(side: number): number {
    return this.#topProbability[side];
  }

  /**
   * The class now, from the softmax of the size-weighted mean scores. Two labels: the side of the
   * threshold the averaged decision logit is on, with the confidence of that side (never below 0.5), or
   * `unknown` inside the unsure band. More: the most probable label, `unknown` below the unsure floor +
   * margin. Undecided (0.5, or uniform) before any frame.
   */
  decision(rules: VoteRules): VoteDecision {
    const alone = this.#imageDecision(rules);
    if (!rules.pairing) return alone;
    if (!this.#head || this.#weightSum === 0 || rules.pairing.imageOnly) return { ...alone, source: 'image' };
    const probabilities = pairedProbabilities(this.#imageProbabilities(), this.#head, rules.pairing.temperature);
    return {
      ...pairedDecision(rules.labels, probabilities, rules.pairing, rules.unsureMargin),
      source: 'image+embedding',
    };
  }

  /** The image model's probability of each label over the track's frames (at least one frame). */
  #imageProbabilities(): number[] {
    const sums = this.#weightedScoreSums;
    if (sums.length !== 2) return softmax(sums.map((s) => s / this.#weightSum));
    const p = sigmoid(sums[1] / this.#weightSum - sums[0] / this.#weightSum);
    return [1 - p, p];
  }

  #imageDecision(rules: VoteRules): VoteDecision {
    const n = rules.labels.length;
    const sums = this.#weightedScoreSums;
    const weightSum = this.#weightSum;
    if (n === 2) {
      const meanLogit = sums[1] / weightSum - sums[0] / weightSum;
      const p = weightSum > 0 ? sigmoid(meanLogit) : 0.5;
      const side = p >= 0.5 ? 1 : 0;
      const confidence = side === 1 ? p : 1 - p;
      const unsure = confidence < 0.5 + rules.unsureMargin;
      return { label: unsure ? UNSURE_LABEL : rules.labels[side], side, confidence };
    }
    const probabilities = weightSum > 0 ? softmax(sums.map((s) => s / weightSum)) : rules.labels.map(() => 1 / n);
    const side = argmax(probabilities);
    const confidence = probabilities[side];
    const unsure = confidence < (rules.unsureFloor ?? 0) + rules.unsureMargin;
    return { label: unsure ? UNSURE_LABEL : rules.labels[side], side, confidence };
  }
}
