/**
 * How good a face is for enrolment, from what is cheap to measure: its size (box and eye distance in
 * source pixels), its sharpness (variance of the Laplacian of the aligned crop's luma, the crop the
 * embedder sees, so photos of any resolution compare) and its pose from the detector's keypoints (roll:
 * the eye line's angle; yaw: how far the nose tip sits off the eyes' midpoint).
 */
import type { DetectedFace } from '../vision/face.js';

export interface PhotoQuality {
  /** Face box width × height, source pixels. */
  readonly face_px: readonly [number, number];
  /** Distance between the eyes, source pixels. */
  readonly eye_distance_px: number;
  /** Variance of the 4-neighbour Laplacian of the aligned crop's luma (0–255 scale); blurred crops score low. */
  readonly sharpness: number;
  /** Head turn, degrees (0 frontal, sign: toward the image's right), estimated from the nose (see `yawDegrees`). */
  readonly yaw_deg: number;
  /** Head tilt, degrees (0: eyes level). */
  readonly roll_deg: number;
}

/** Below this eye distance a face is too small to enrol: the aligner would upscale it more than 2.5×. Pixels. */
export const MIN_ENROL_EYE_DISTANCE_PX = 20;
/** Beyond this estimated head turn a face is too far from frontal to enrol (a door camera sees faces frontal). Degrees. */
export const MAX_ENROL_YAW_DEG = 35;
/**
 * Below this sharpness a crop is reported as blurred (reported, not refused): the 1st percentile of the 1,200
 * CelebA enrolment photos of the open-set protocol is 20.8 (5th 44.6, median 167).
 */
export const LOW_SHARPNESS = 20;

/**
 * The nose tip of an average adult head sits about 0.6 eye distances in front of the eye line, so a head
 * turned by θ moves the nose off the eyes' midpoint by 0.6 · tan θ of the (foreshortened) eye distance.
 */
const NOSE_DEPTH_IN_EYE_DISTANCES = 0.6;

export function yawDegrees(face: DetectedFace): number {
  const { rightEye, leftEye, noseTip } = face.keypoints;
  const dx = leftEye.x - rightEye.x;
  const dy = leftEye.y - rightEye.y;
  const eyes = Math.hypot(dx, dy);
  if (eyes === 0) return 90;
  // The nose's offset along the eye line, from the eyes' midpoint, in eye distances.
  const along =
    ((noseTip.x - (rightEye.x + leftEye.x) / 2) * dx + (noseTip.y - (rightEye.y + leftEye.y) / 2) * dy) / eyes;
  return (Math.atan(along / eyes / NOSE_DEPTH_IN_EYE_DISTANCES) * 180) / Math.PI;
}

export function rollDegrees(face: DetectedFace): number {
  const { rightEye, leftEye } = face.keypoints;
  return (Math.atan2(leftEye.y - rightEye.y, leftEye.x - rightEye.x) * 180) / Math.PI;
}

/** Variance of the Laplacian of a square RGB crop's luma (`side` × `side` × 3 bytes). */
export function cropSharpness(crop: Uint8Array, side: number): number {
  const luma = new Float32Array(side * side);
  for (let i = 0; i < luma.length; i++)
    luma[i] = 0.299 * crop[3 * i] + 0.587 * crop[3 * i + 1] + 0.114 * crop[3 * i + 2];
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < side - 1; y++) {
    for (let x = 1; x < side - 1; x++) {
      const i = y * side + x;
      const lap = luma[i - 1] + luma[i + 1] + luma[i - side] + luma[i + side] - 4 * luma[i];
      sum += lap;
      sumSq += lap * lap;
      n++;
    }
  }
  return n > 0 ? sumSq / n - (sum / n) ** 2 : 0;
}

const round = (v: number, digits = 1) => Number(v.toFixed(digits));

/** The quality measures that need no pixels: size and pose, from the box and keypoints. */
export function faceGeometryQuality(face: DetectedFace): Omit<PhotoQuality, 'sharpness'> {
  const { rightEye, leftEye } = face.keypoints;
  return {
    face_px: [Math.round(face.box.width), Math.round(face.box.height)],
    eye_distance_px: round(Math.hypot(leftEye.x - rightEye.x, leftEye.y - rightEye.y)),
    yaw_deg: round(yawDegrees(face)),
    roll_deg: round(rollDegrees(face)),
  };
}

export function photoQuality(face: DetectedFace, crop: Uint8Array, cropSide: number): PhotoQuality {
  return { ...faceGeometryQuality(face), sharpness: round(cropSharpness(crop, cropSide)) };
}

/** Why a face of this quality is not enrolled, or null when it may be. */
export function enrolmentRefusal(quality: PhotoQuality): string | null {
  if (quality.eye_distance_px < MIN_ENROL_EYE_DISTANCE_PX) {
    return `face too small (eyes ${quality.eye_distance_px} px apart, at least ${MIN_ENROL_EYE_DISTANCE_PX} needed)`;
  }
  if (Math.abs(quality.yaw_deg) > MAX_ENROL_YAW_DEG) {
    return `head turned too far (about ${Math.abs(quality.yaw_deg)}°, at most ${MAX_ENROL_YAW_DEG}°)`;
  }
  return null;
}

/**
 * Sharpness at which a crop counts half as good as a perfectly sharp one: the 5th percentile of the CelebA
 * enrolment photos (44.6, see {@link LOW_SHARPNESS}); the median photo (167) scores 0.79.
 */
const HALF_GOOD_SHARPNESS = 45;

/**
 * How good a frame of a tracked face is for recognition, in [0, 1]: the product of
 * - size: the eye distance over `fullEyeDistancePx` (the eye distance at which the embedder's crop is not
 *   upscaled: its side over its side in eye distances, 150 / 3 = 50 px for the shipped one), capped at 1;
 * - sharpness: s / (s + 45), saturating (a blurred frame of a moving head scores low);
 * - frontality: cos² of the estimated yaw (a half-turned head loses most of the identity the embedder reads;
 *   roll is undone by the aligner and does not count).
 * A product, so that a frame bad in any one way is not chosen for being good in the others.
 */
export function recognitionFrameScore(quality: PhotoQuality, fullEyeDistancePx: number): number {
  const size = Math.min(1, quality.eye_distance_px / fullEyeDistancePx);
  const sharpness = quality.sharpness / (quality.sharpness + HALF_GOOD_SHARPNESS);
  const frontal = Math.cos((Math.min(90, Math.abs(quality.yaw_deg)) * Math.PI) / 180) ** 2;
  return size * sharpness * frontal;
}
