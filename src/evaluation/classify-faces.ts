/**
 * Every face of one image through the daemon's own path: detect → align → classify. Used by
 * `faceedge classify`, which reports all faces (evaluation instead keeps the dominant one).
 */
import type { FaceClassifier } from '../inference/face-classifier.js';
import { alignFace } from '../vision/align-face.js';
import { detectFaces, fullResolutionImage, type DetectionImage } from '../vision/decode-for-detection.js';
import type { FaceDetector } from '../vision/face-detector.js';

export interface ClassifiedFace {
  /** Source pixels, rounded to 0.1 px (sub-pixel digits are noise from the 128-px detector input). */
  readonly box: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
  /** Detector confidence in [0, 1]. */
  readonly score: number;
  /** Decided label, e.g. `female`. */
  readonly class: string;
  /** Probability of the decided label, in [0.5, 1]. */
  readonly confidence: number;
  /** Probability of the model's positive label (`labels[1]`). */
  readonly probability: number;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;
const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/** Faces of `decoded` (src/vision/decode-for-detection.ts), largest first, each with its classification. */
export async function classifyFaces(decoded: DetectionImage, detector: FaceDetector, classifier: FaceClassifier): Promise<ClassifiedFace[]> {
  const faces = await detectFaces(detector, decoded);
  const image = faces.length > 0 ? await fullResolutionImage(decoded) : decoded.image;
  faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const out: ClassifiedFace[] = [];
  for (const face of faces) {
    const result = await classifier.classify(alignFace(image, face, classifier.alignment));
    out.push({
      box: { x: round1(face.box.x), y: round1(face.box.y), width: round1(face.box.width), height: round1(face.box.height) },
      score: round4(face.score),
      class: result.label,
      confidence: round4(result.confidence),
      probability: round4(result.probability),
    });
  }
  return out;
}
