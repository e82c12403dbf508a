/**
 * Every face of one image through the daemon's own path: detect → align → classify. Used by
 * `faceedge classify`, which reports all faces (evaluation instead keeps the dominant one).
 */
import type { FaceClassifier } from '../inference/face-classifier.js';
import { alignFace } from '../vision/align-face.js';
import { detectFaces, fullResolutionImage, type DetectionImage } from '../vision/decode-for-detection.js';
import type { FaceDetector } from '../inference/face-detector.js';
import type { Box } from '../vision/face.js';

/**
 * One face as `faceedge classify --json` prints it (README "faceedge classify --json"). Every
 * probability is named after what it is the probability of: none depends on which class was decided.
 */
export interface ClassifiedFace {
  /**
   * Face box in source pixels (top-left corner, size), rounded to 0.1 px (sub-pixel digits are noise from the 128-px
   * detector input).
   */
  readonly box: Box;
  /** The detector's confidence that the box is a face, in [0, 1]; says nothing about the class. */
  readonly detection_score: number;
  /**
   * Decided label, e.g. `female`: two labels, `labels[1]` when its probability reaches the model's
   * threshold; more, the most probable label, or `unknown` below the model's unsure floor.
   */
  readonly class: string;
  /**
   * Confidence of that decision: two labels in [0.5, 1] on the model's calibrated scale (0.5 at the
   * threshold); more, the largest probability. The scale of events' `score`.
   */
  readonly confidence: number;
  /**
   * The classifier's raw probability of `class`, in [0, 1] (for `unknown`: of the most likely label).
   * Below 0.5 is possible when the model's threshold is not 0.5 (the shipped model's is 0.602: P(male)
   * 0.55 is `female` with probability 0.45).
   */
  readonly class_probability: number;
  /**
   * The classifier's probability of every label of the model, by label (`{"female":0.12,"male":0.88}`); they sum to 1.
   */
  readonly probabilities: Readonly<Record<string, number>>;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/** Faces of `decoded` (src/vision/decode-for-detection.ts), largest first, each with its classification. */
export async function classifyFaces(
  decoded: DetectionImage,
  detector: FaceDetector,
  classifier: FaceClassifier,
): Promise<ClassifiedFace[]> {
  const faces = await detectFaces(detector, decoded);
  const image = faces.length > 0 ? await fullResolutionImage(decoded) : decoded.image;
  faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const out: ClassifiedFace[] = [];
  for (const face of faces) {
    const result = await classifier.classify(alignFace(image, face, classifier.alignment));
    const probabilities = Object.fromEntries(classifier.labels.map((l, i) => [l, round4(result.probabilities[i])]));
    // For `unknown` (below a model's unsure floor): the probability of the most likely label.
    const labelIndex = classifier.labels.indexOf(result.label);
    const classProbability = labelIndex >= 0 ? result.probabilities[labelIndex] : Math.max(...result.probabilities);
    out.push({
      box: {
        x: round1(face.box.x),
        y: round1(face.box.y),
        width: round1(face.box.width),
        height: round1(face.box.height),
      },
      detection_score: round4(face.score),
      class: result.label,
      confidence: round4(result.confidence),
      class_probability: round4(classProbability),
      probabilities,
    });
  }
  return out;
}
