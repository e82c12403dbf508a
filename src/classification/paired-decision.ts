/**
 * The decision of a model shipped as a pair (issue 24 §4, models/age/README.md): the 64×64 image model and a
 * head on the face embedding, both over the same labels. Where the head has a value for the track (recognition
 * on, the track embedded), the track's class comes from the mean of the two models' log-probabilities, at the
 * pair's own temperature, `unknown` below the pair's unsure floor; without it, from the image model alone.
 * Both settings are fitted on validation faces by `faceedge_train.heads_export --pair-with`, which mirrors
 * {@link pairedProbabilities} (its `combined_scores`).
 */
import { FaceedgeError } from '../errors.js';
import { argmax, logSoftmax, LOGIT_LIMIT, softmax, UNSURE_LABEL } from './classification.js';

/** How a pair decides: the head manifest's `combination`. */
export interface PairingRules {
  /** The mean log-probabilities are divided by it before the softmax (fitted on validation). */
  readonly temperature: number;
  /** Below this largest probability the pair's label is `unknown` (fitted on validation). */
  readonly unsureFloor: number;
  /**
   * The image model serving is not the one the pair was fitted with (its sha256, manifest `combination.with`):
   * the calibration means nothing for it, so the image model decides alone (`source: image`). Default false.
   */
  readonly imageOnly?: boolean;
}

/** Which model(s) decided an attribute: both (`image+embedding`), or the image model alone. */
export type DecisionSource = 'image+embedding' | 'image';

/**
 * The pair's probability of each label: softmax(mean(log p_image, log p_head) / temperature). `imageProbabilities`
 * is the image model's track probability vector; its log is clamped at −{@link LOGIT_LIMIT} (as a track's vote
 * clamps a frame's) and renormalised, so that one model's certainty never vetoes a label outright.
 * `headLogProbabilities` is the head's log-softmax at its own temperature. Both in the labels' order.
 */
export function pairedProbabilities(
  imageProbabilities: readonly number[],
  headLogProbabilities: readonly number[],
  temperature: number,
): number[] {
  if (imageProbabilities.length !== headLogProbabilities.length) {
    throw new FaceedgeError(
      'MODEL_SHAPE_MISMATCH',
      `a pair of ${imageProbabilities.length} and ${headLogProbabilities.length} labels`,
    );
  }
  const image = logSoftmax(imageProbabilities.map((p) => Math.max(-LOGIT_LIMIT, Math.log(p))));
  return softmax(image.map((l, i) => (l + headLogProbabilities[i]) / 2 / temperature));
}

/** The pair's decision: the most probable label, `unknown` below `unsureFloor` + `margin`. */
export function pairedDecision(
  labels: readonly string[],
  probabilities: readonly number[],
  rules: PairingRules,
  margin = 0,
): { label: string; side: number; confidence: number } {
  const side = argmax(probabilities);
  const confidence = probabilities[side];
  return { label: confidence < rules.unsureFloor + margin ? UNSURE_LABEL : labels[side], side, confidence };
}

/**
 * Throws `MODEL_INVALID` unless the two models of a pair have the same labels in the same order (averaging
 * log-probabilities of differently ordered labels would mix classes silently).
 */
export function assertSameLabels(image: readonly string[], head: readonly string[], what: string): void {
  if (image.length === head.length && image.every((l, i) => l === head[i])) return;
  throw new FaceedgeError(
    'MODEL_INVALID',
    `${what}: the head's labels [${head.join(', ')}] are not the model's [${image.join(', ')}]`,
    { hint: 'a head is paired with the model it was exported for (heads_export --pair-with): same labels, same order' },
  );
}
