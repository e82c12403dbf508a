/**
 * Temporal liveness evidence from a track's BlazeFace keypoints: does the face move like one flat picture,
 * or like a head?
 *
 * On a flat object (a printed photo, a phone or tablet showing a still) every point keeps its affine
 * coordinates in the frame of three others, however the picture is moved, turned or tilted (exactly under
 * an affine camera, to a few thousandths at door distances under perspective). A head is not flat: its nose
 * tip stands 3–4 cm in front of the eyes and mouth, so when the head turns or nods the nose slides across
 * the eye–mouth triangle. So each frame's nose tip is expressed in the frame of the right eye (origin),
 * the left eye (first axis) and the mouth (second axis), and over a track:
 *
 * - parallax: how far the nose's coordinates travelled, as the trimmed range (second largest minus second
 *   smallest, so one bad frame cannot decide) of each coordinate, the larger of the two. Unit: the frame's
 *   own axes (eye distance, eye–mouth distance).
 * - turn: the trimmed range of log(eye distance / eye-midpoint-to-mouth distance), which changes when the
 *   face turns or tilts out of the image plane, whether it is a head or a card.
 *
 * `live` needs parallax well above what any planar stand-in produced; `planar` needs a clear turn with the
 * nose staying put. The detector's keypoints are regressed by a network, not measured, so on a tilted photo
 * they move somewhat as they would on a turning head; the thresholds leave that margin. Measurement:
 * models/liveness/README.md ("Temporal check"): the scene clips (live) against photos moved as rigid cards
 * (`train/faceedge_train/liveness/planar_clips.py`), keypoints from the daemon's short-range detector.
 *
 * What it stops and what it does not: given head motion, it tells a rigid flat picture (print, still photo
 * on a screen) from a head. A face that does not turn gives `insufficient` (never a pass). A video replay of
 * the person turning, a bent or folded print, a cut-out or a 3-D mask all move non-planarly and can give
 * `live`: combine it with the passive network, and never let `live` alone open a door.
 */
import type { Box, FaceKeypoints } from '../vision/face.js';

/** One frame of a track, as the detector saw it (source pixels). */
export interface KeypointSample {
  /** Frame time, ms (any monotonic clock; only differences are used). */
  readonly timeMs: number;
  readonly box: Box;
  readonly keypoints: FaceKeypoints;
}

/**
 * `live`: the nose moved across the eyes–mouth triangle as only a 3-D head's can (evidence against a flat
 * print or still-image screen; not proof of life). `planar`: the face turned clearly and the nose stayed
 * put, as on a photo; weak with BlazeFace's regressed keypoints (it came up for 1 of 40 planar stand-ins and
 * for 1 of 2 judged tracks of small live faces), so it is for the audit log, not a verdict on a person.
 * `insufficient`: too few frames, too little motion, or a result between the two; it is never a pass.
 */
export type PlanarMotionVerdict = 'live' | 'planar' | 'insufficient';

export interface PlanarMotionOptions {
  /**
   * Samples (after thinning) needed for any verdict other than `insufficient`. Default 6: with the daemon
   * analysing a confirmed track 5 times a second, a verdict needs about 1.2 s of track.
   */
  readonly minSamples?: number;
  /** Samples closer than this to the previous kept one are skipped (consecutive frames repeat their noise), ms. Default 150. */
  readonly minSpacingMs?: number;
  /** The latest this many samples are used. Default 24. */
  readonly maxSamples?: number;
  /** Parallax at or above which the verdict is `live`. Default 0.2 (axis units). */
  readonly liveParallax?: number;
  /** Parallax at or below which a turned face is `planar`. Default 0.1. */
  readonly planarParallax?: number;
  /** Turn (log ratio) needed for a `planar` verdict. Default 0.1 (a 10 % foreshortening change). */
  readonly minTurn?: number;
}

/**
 * Defaults of {@link PlanarMotionOptions}, the one definition. Origin (models/liveness/README.md): the largest
 * parallax over 2-second windows of 40 planar stand-in clips (cards turned by up to ±30°) was 0.148, so
 * `live` starts at 0.2; the planar and turn thresholds keep `planar` for a clear turn with a still nose.
 */
export const PLANAR_MOTION_DEFAULTS: Required<PlanarMotionOptions> = {
  minSamples: 6,
  minSpacingMs: 150,
  maxSamples: 24,
  liveParallax: 0.2,
  planarParallax: 0.1,
  minTurn: 0.1,
};

export interface PlanarMotionResult {
  readonly verdict: PlanarMotionVerdict;
  /** Trimmed range of the nose's coordinates in the eyes–mouth frame (axis units); null below 4 samples. */
  readonly parallax: number | null;
  /** Trimmed range of the foreshortening log ratio; null below 4 samples. */
  readonly turn: number | null;
  /** Samples used after thinning and validation. */
  readonly samples: number;
}

/**
 * The nose tip's affine coordinates: nose = rightEye + along·(leftEye − rightEye) + down·(mouth − rightEye).
 * Null when the three reference points are (nearly) on a line.
 */
export function noseInFaceFrame(k: FaceKeypoints): { along: number; down: number } | null {
  const ax = k.leftEye.x - k.rightEye.x,
    ay = k.leftEye.y - k.rightEye.y;
  const bx = k.mouth.x - k.rightEye.x,
    by = k.mouth.y - k.rightEye.y;
  const nx = k.noseTip.x - k.rightEye.x,
    ny = k.noseTip.y - k.rightEye.y;
  const det = ax * by - ay * bx;
  // |det| is twice the triangle's area; below 1 % of the squared eye–mouth scale the frame is degenerate.
  if (!(Math.abs(det) > 0.01 * (ax * ax + ay * ay + bx * bx + by * by))) return null;
  return { along: (nx * by - ny * bx) / det, down: (ax * ny - ay * nx) / det };
}

/** log(eye distance / distance from the eyes' midpoint to the mouth): moves when the face turns out of plane. */
export function foreshortening(k: FaceKeypoints): number {
  const eyes = Math.hypot(k.leftEye.x - k.rightEye.x, k.leftEye.y - k.rightEye.y);
  const mx = (k.leftEye.x + k.rightEye.x) / 2,
    my = (k.leftEye.y + k.rightEye.y) / 2;
  return Math.log(eyes / Math.hypot(k.mouth.x - mx, k.mouth.y - my));
}

/** Second largest minus second smallest: a range that one outlying frame cannot set. Needs ≥ 4 values. */
function trimmedRange(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length - 2] - s[1];
}

/** The samples kept: valid, in time order, at least `minSpacingMs` apart, the latest `maxSamples`. */
function thin(samples: readonly KeypointSample[], o: Required<PlanarMotionOptions>): KeypointSample[] {
  const kept: KeypointSample[] = [];
  for (const s of [...samples].sort((a, b) => a.timeMs - b.timeMs)) {
    const k = s.keypoints;
    const finite = [k.rightEye, k.leftEye, k.noseTip, k.mouth].every((p) => Number.isFinite(p.x + p.y));
    if (!finite || !Number.isFinite(s.timeMs)) continue;
    if (kept.length === 0 || s.timeMs - kept[kept.length - 1].timeMs >= o.minSpacingMs) kept.push(s);
  }
  return kept.slice(-o.maxSamples);
}

/** The verdict of one track's samples (any order). Pure: the same samples give the same result. */
export function planarMotionEvidence(
  samples: readonly KeypointSample[],
  options: PlanarMotionOptions = {},
): PlanarMotionResult {
  const o = { ...PLANAR_MOTION_DEFAULTS, ...options };
  const along: number[] = [];
  const down: number[] = [];
  const turns: number[] = [];
  for (const s of thin(samples, o)) {
    const nose = noseInFaceFrame(s.keypoints);
    const turn = foreshortening(s.keypoints);
    if (!nose || !Number.isFinite(turn)) continue;
    along.push(nose.along);
    down.push(nose.down);
    turns.push(turn);
  }
  const n = turns.length;
  if (n < 4) return { verdict: 'insufficient', parallax: null, turn: null, samples: n };
  const parallax = Math.max(trimmedRange(along), trimmedRange(down));
  const turn = trimmedRange(turns);
  let verdict: PlanarMotionVerdict = 'insufficient';
  if (n >= o.minSamples) {
    if (parallax >= o.liveParallax) verdict = 'live';
    else if (parallax <= o.planarParallax && turn >= o.minTurn) verdict = 'planar';
  }
  return { verdict, parallax, turn, samples: n };
}
