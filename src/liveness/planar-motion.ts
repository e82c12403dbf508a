/**
 * Temporal liveness evidence from a track's BlazeFace keypoints: does the face move like one rigid flat
 * picture, or like a head?
 *
 * The six keypoints of a flat object (a printed photo, a phone or tablet showing a still) seen in two frames
 * are related by one homography, however the picture is turned, tilted or moved: a plane seen by a pinhole
 * camera from two poses. A real head that turns, nods or changes expression moves its nose tip, mouth and ear
 * points off any such map (parallax between points at different depths). So, for pairs of frames whose
 * keypoints changed shape enough for that to show, the misfit of the best homography is the evidence:
 *
 * - shape change of a pair: RMS misfit of the best similarity (rotation, scale, shift) between the two
 *   keypoint sets, in face widths. A face or picture that only slides, turns in the image plane or comes
 *   closer keeps its shape; below `minShapeChange` the pair says nothing either way.
 * - parallax of a pair: RMS misfit of the best homography, in face widths. A plane leaves only the detector's
 *   keypoint noise; a turning head leaves more.
 *
 * The track's score is the median parallax over its informative pairs. Where the thresholds come from:
 * models/liveness/README.md ("Temporal check"), measured on the scene clips (live) and on planar stand-ins made
 * from CelebA photos warped by moving homographies (`train/faceedge_train/liveness/planar_clips.py`), with the
 * keypoints of the daemon's own short-range detector.
 *
 * What it stops and what it does not: it tells a rigid flat picture (print, still photo on a screen) from a
 * head, given motion. A video replay of the person turning their head, a bent or folded print, a cut-out
 * mask with holes, or a 3-D mask all move non-rigidly or non-planarly and pass as `live`: combine it with the
 * passive network, and never let `live` alone open a door.
 */
import type { Box, FaceKeypoints, Point } from '../vision/face.js';
import { fitHomography, applyHomography, fitSimilarity, rmsTransferError } from './point-fits.js';

/** One frame of a track, as the detector saw it (source pixels). */
export interface KeypointSample {
  /** Frame time, ms (any monotonic clock; only differences are used). */
  readonly timeMs: number;
  readonly box: Box;
  readonly keypoints: FaceKeypoints;
}

/**
 * `live`: the keypoints moved in a way no rigid plane can (evidence against a flat print or still-image
 * screen; not proof of life). `planar`: the face changed shape enough to judge and every change fits one
 * plane (what a photo does). `insufficient`: too few frames, too little shape change, or a score between
 * the two thresholds; it is never a pass.
 */
export type PlanarMotionVerdict = 'live' | 'planar' | 'insufficient';

export interface PlanarMotionOptions {
  /** Pairs whose similarity misfit is below this (face widths) carry no evidence. */
  readonly minShapeChange?: number;
  /** Informative pairs needed for any verdict other than `insufficient`. */
  readonly minInformativePairs?: number;
  /** Median parallax (face widths) at or above which the verdict is `live`. */
  readonly liveThreshold?: number;
  /** Median parallax (face widths) at or below which the verdict is `planar`. */
  readonly planarThreshold?: number;
  /** Samples used at most (the latest ones); bounds the pairs to n·(n−1)/2. */
  readonly maxSamples?: number;
}

/** Defaults of {@link PlanarMotionOptions}: the one definition; their measurement is in models/liveness/README.md. */
export const PLANAR_MOTION_DEFAULTS: Required<PlanarMotionOptions> = {
  minShapeChange: 0.02,
  minInformativePairs: 3,
  liveThreshold: 0.012,
  planarThreshold: 0.006,
  maxSamples: 24,
};

export interface PlanarMotionResult {
  readonly verdict: PlanarMotionVerdict;
  /** Median parallax over the informative pairs, face widths; null when there was none. */
  readonly parallax: number | null;
  /** Largest shape change among all pairs, face widths (how much the face moved out of the image plane). */
  readonly maxShapeChange: number;
  /** Pairs with at least `minShapeChange` of shape change. */
  readonly informativePairs: number;
  readonly samples: number;
}

/** Keypoints in a fixed order, as points. */
export function keypointList(k: FaceKeypoints): Point[] {
  return [k.rightEye, k.leftEye, k.noseTip, k.mouth, k.rightEar, k.leftEar];
}

/** Shape change and parallax of one pair of frames, both in face widths (mean box width of the two). */
export function pairEvidence(a: KeypointSample, b: KeypointSample): { shapeChange: number; parallax: number } {
  const from = keypointList(a.keypoints);
  const to = keypointList(b.keypoints);
  const width = (a.box.width + b.box.width) / 2;
  const shapeChange = rmsTransferError(fitSimilarity(from, to), from, to) / width;
  const h = fitHomography(from, to);
  // A degenerate keypoint set (all on a line) cannot be judged: treat it as a pair with no parallax evidence.
  const parallax = h ? rmsTransferError((p) => applyHomography(h, p), from, to) / width : 0;
  return { shapeChange, parallax: Number.isFinite(parallax) ? parallax : 0 };
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The planar-motion verdict of one track's samples (any order; sorted by time here). Pure: the same
 * samples give the same result.
 */
export function planarMotionEvidence(
  samples: readonly KeypointSample[],
  options: PlanarMotionOptions = {},
): PlanarMotionResult {
  const o = { ...PLANAR_MOTION_DEFAULTS, ...options };
  const used = [...samples]
    .filter((s) => s.box.width > 0 && keypointList(s.keypoints).every((p) => Number.isFinite(p.x + p.y)))
    .sort((x, y) => x.timeMs - y.timeMs)
    .slice(-o.maxSamples);
  const parallaxes: number[] = [];
  let maxShapeChange = 0;
  for (let i = 0; i < used.length; i++) {
    for (let j = i + 1; j < used.length; j++) {
      const e = pairEvidence(used[i], used[j]);
      maxShapeChange = Math.max(maxShapeChange, e.shapeChange);
      if (e.shapeChange >= o.minShapeChange) parallaxes.push(e.parallax);
    }
  }
  const parallax = parallaxes.length > 0 ? median(parallaxes) : null;
  let verdict: PlanarMotionVerdict = 'insufficient';
  if (parallax !== null && parallaxes.length >= o.minInformativePairs) {
    if (parallax >= o.liveThreshold) verdict = 'live';
    else if (parallax <= o.planarThreshold) verdict = 'planar';
  }
  return { verdict, parallax, maxShapeChange, informativePairs: parallaxes.length, samples: used.length };
}
