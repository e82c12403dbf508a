/**
 * Chooses the face a labelled photo is about. A photo is about its main subject: the largest face,
 * and when another face is nearly as large, the one nearest the image centre (news photos put their
 * subject there; several confident errors of the old "largest or skip" rule were a man beside the
 * labelled woman). The `strict` policy instead refuses such photos, for building training crops
 * where a wrong face costs more than a lost photo.
 */
import type { DetectedFace } from './face.js';

/** `central`: classify the most central of the near-largest faces; `strict`: skip such images. */
export type PrimaryFacePolicy = 'central' | 'strict';

export type PrimaryFace =
  | {
      readonly face: DetectedFace;
      /** Another face was nearly as large (the central one was taken). */ readonly crowded: boolean;
    }
  | { readonly face: null; readonly reason: 'no face' | 'several faces' };

export interface PrimaryFaceOptions {
  /** Default `central`. */
  readonly policy?: PrimaryFacePolicy;
  /** A face with at least this share of the largest face's area competes with it. Default 0.5. */
  readonly nearlyAsLarge?: number;
}

const area = (f: DetectedFace) => f.box.width * f.box.height;

/** Squared distance of the box centre from the image centre, in image diagonals² (size-independent). */
function offCentre(f: DetectedFace, width: number, height: number): number {
  const dx = (f.box.x + f.box.width / 2 - width / 2) / width;
  const dy = (f.box.y + f.box.height / 2 - height / 2) / height;
  return dx * dx + dy * dy;
}

/** The face `faces` (from an image of `width` × `height`) is about, or why there is none. */
export function primaryFace(
  faces: readonly DetectedFace[],
  width: number,
  height: number,
  options: PrimaryFaceOptions = {},
): PrimaryFace {
  if (faces.length === 0) return { face: null, reason: 'no face' };
  const largest = Math.max(...faces.map(area));
  const contenders = faces.filter((f) => area(f) >= (options.nearlyAsLarge ?? 0.5) * largest);
  if (contenders.length === 1) return { face: contenders[0], crowded: false };
  if ((options.policy ?? 'central') === 'strict') return { face: null, reason: 'several faces' };
  const central = contenders.reduce((best, f) =>
    offCentre(f, width, height) < offCentre(best, width, height) ? f : best,
  );
  return { face: central, crowded: true };
}
