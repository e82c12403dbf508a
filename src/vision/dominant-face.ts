/**
 * Chooses the face an image is "about": the largest one, unless another face is nearly as big, in
 * which case the image is ambiguous (a labeled photo with two people cannot say whose label it is).
 */
import type { DetectedFace } from './face.js';

export type DominantFace = { readonly face: DetectedFace } | { readonly face: null; readonly reason: 'no face' | 'several faces' };

/**
 * @param ambiguityRatio a second face with at least this share of the largest face's area makes
 *   the image ambiguous. Default 0.5.
 */
export function dominantFace(faces: readonly DetectedFace[], ambiguityRatio = 0.5): DominantFace {
  if (faces.length === 0) return { face: null, reason: 'no face' };
  const byArea = [...faces].sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
  const [first, second] = byArea;
  if (second && second.box.width * second.box.height >= ambiguityRatio * first.box.width * first.box.height) {
    return { face: null, reason: 'several faces' };
  }
  return { face: first };
}
