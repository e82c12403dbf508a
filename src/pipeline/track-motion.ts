/**
 * Where a face is going, for the tracker: box overlap, whether a detection continues a track, and each
 * track's smoothed motion, which lets frames looked at 200 ms apart (motion gating while tracks are
 * steady) still find a walking face most of a face further on.
 */
import type { Box } from './track-event.js';

/** A track's last box, its frame time, and the box centre's velocity then (px/ms; zero until seen twice). */
export interface TrackMotion {
  box: Box;
  seenAtMs: number;
  vx: number;
  vy: number;
}

/** How far ahead a track's box is extrapolated at most, ms (a face gone for longer is not where it was heading). */
const MAX_PREDICTION_MS = 250;
/** Time constant of a track's velocity estimate, ms. */
const VELOCITY_SMOOTHING_MS = 100;

export function iou(a: Box, b: Box): number {
  const iw = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const ih = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * How well a detection continues a track's box: its IoU when that reaches `threshold`; 0 (the weakest
 * valid match) for a same-sized box within half a face of the old position — a fast mover rather
 * than a new face; null when it is not a candidate at all.
 */
function boxMatchScore(track: Box, seen: Box, threshold: number): number | null {
  const overlap = iou(track, seen);
  if (overlap >= threshold) return overlap;
  const dx = track.x + track.width / 2 - (seen.x + seen.width / 2);
  const dy = track.y + track.height / 2 - (seen.y + seen.height / 2);
  const distance = Math.hypot(dx, dy) / Math.max(track.width, track.height);
  const sizeRatio = Math.min(track.width, seen.width) / Math.max(track.width, seen.width);
  return distance < 0.5 && sizeRatio > 0.6 ? 0 : null;
}

/** Where a track's face should be at `nowMs`: its last box moved on at its smoothed velocity. */
function predictedBox(t: TrackMotion, nowMs: number): Box {
  const dt = Math.min(MAX_PREDICTION_MS, Math.max(0, nowMs - t.seenAtMs));
  return { ...t.box, x: t.box.x + t.vx * dt, y: t.box.y + t.vy * dt };
}

/**
 * How well a detection at `nowMs` continues a track: matched at the track's last box or where its motion
 * puts it, whichever fits better; null when neither is a candidate.
 */
export function matchScore(t: TrackMotion, seen: Box, nowMs: number, threshold: number): number | null {
  const here = boxMatchScore(t.box, seen, threshold);
  const ahead = boxMatchScore(predictedBox(t, nowMs), seen, threshold);
  return here === null ? ahead : ahead === null ? here : Math.max(here, ahead);
}

/**
 * Moves a track to the box seen at `nowMs`. The velocity is smoothed over ≈ VELOCITY_SMOOTHING_MS: frames
 * a few ms apart (a file played as fast as it goes, detector jitter) must not make a face look fast.
 * `firstSight`: the track has no earlier box to move from.
 */
export function moveTrack(t: TrackMotion, box: Box, nowMs: number, firstSight: boolean): void {
  const dt = nowMs - t.seenAtMs;
  if (!firstSight && dt > 0) {
    const a = dt / (dt + VELOCITY_SMOOTHING_MS);
    t.vx += a * ((box.x + box.width / 2 - (t.box.x + t.box.width / 2)) / dt - t.vx);
    t.vy += a * ((box.y + box.height / 2 - (t.box.y + t.box.height / 2)) / dt - t.vy);
  }
  t.box = box;
  t.seenAtMs = nowMs;
}
