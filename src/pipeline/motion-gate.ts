/**
 * Motion gating, as CCTV systems do it: a still scene with nobody in it does not need the face detector
 * on every frame. Each frame is reduced to a tiny grey thumbnail and compared with a running background;
 * when fewer than `minArea` of its pixels differ by more than `threshold` grey levels (after compensating
 * a global brightness change, so light flicker is not motion), the detector is skipped, except once every
 * `keepaliveMs` so that a face that sits still is still found — unless the picture has not changed in any
 * thumbnail cell since the detector last looked at it: the detector would give the same answer on the same
 * picture, and a face that arrived, however small or slow, changed some cell (a re-check still runs every
 * {@link UNCHANGED_RECHECK_MS}, for detector settings or models changed at run time). While any track is open
 * the detector runs on every frame and the background is rebuilt afterwards. One gate per camera; not shared.
 *
 * Decoding a JPEG costs about as much as detecting (its entropy decoding cannot be scaled down), so while
 * the scene is still the gate also looks at only one frame per `checkIntervalMs` ({@link wantsFrame}); the
 * frames in between are dropped undecoded. Once motion is seen, every frame is looked at for `holdMs`.
 *
 * While faces are tracked, the detector runs on every frame until each track is confirmed, then on one
 * frame per `trackedIntervalMs` (5 a second by default): the tracker extrapolates each face's motion
 * between two looks (face-tracker.ts), and on a 1280×720 camera each look costs a decode and a full-range
 * detection (≈ 7 ms).
 */
import type { RgbImage } from '../capture/frame.js';
import { definedValues } from '../schema/defined-values.js';
import { greyThumbnail, type GreyImage } from '../vision/grey-thumbnail.js';

export interface MotionGateOptions {
  /** Grey-level difference (0–255) from the background for a thumbnail pixel to count as changed. Default 12. */
  readonly threshold?: number;
  /** Share of the thumbnail (0–1) that must change for the frame to be motion. Default 0.01 (1 %). */
  readonly minArea?: number;
  /** While still and without tracks, the detector still runs once per this many ms. Default 333 (≈ 3 per second). */
  readonly keepaliveMs?: number;
  /** How fast the background follows the scene, per looked-at frame (0–1). Default 0.05. */
  readonly backgroundRate?: number;
  /**
   * While still and without tracks, one frame per this many ms is decoded and looked at. Default 333 (3 per second).
   */
  readonly checkIntervalMs?: number;
  /** After motion, every frame is looked at for this long, ms. Default 1000. */
  readonly holdMs?: number;
  /** While every tracked face is confirmed, one frame per this many ms is analysed; 0 = every frame. Default 200. */
  readonly trackedIntervalMs?: number;
}

/**
 * What the tracker is doing, as the gate needs it: nothing open (`idle`); some track not confirmed yet
 * (`acquiring`: every frame counts); every open track confirmed, its face seen or missing (`steady`).
 */
export type TrackingState = 'idle' | 'acquiring' | 'steady';

/** The documented defaults (the config schema takes its defaults from here). */
export const DEFAULT_MOTION_GATE: Required<MotionGateOptions> = {
  threshold: 12,
  minArea: 0.01,
  keepaliveMs: 333,
  backgroundRate: 0.05,
  checkIntervalMs: 333,
  holdMs: 1000,
  trackedIntervalMs: 200,
};

/** Even on an unchanged picture, the keep-alive detection runs at least this often, ms. */
export const UNCHANGED_RECHECK_MS = 5000;

/** One frame's verdict. */
export interface MotionDecision {
  /** Run the detector on this frame. */
  readonly detect: boolean;
  /** Share of the thumbnail that changed (0–1); null when not measured (tracks open, first frame). */
  readonly changed: number | null;
}

export class MotionGate {
  readonly options: Required<MotionGateOptions>;
  #background: Float32Array | null = null;
  /** The thumbnail of the last frame the detector ran on (null while tracking: faces move the picture). */
  #detectedOn: Float32Array | null = null;
  #lastDetectMs = -Infinity;
  #lastCheckMs = -Infinity;
  #lastMotionMs = -Infinity;

  constructor(options: MotionGateOptions = {}) {
    this.options = { ...DEFAULT_MOTION_GATE, ...definedValues(options) };
  }

  /**
   * Whether a frame arriving at `nowMs` is worth decoding: always while a face is being acquired, one per
   * `trackedIntervalMs` while tracks are steady; with no track, always shortly after motion, else one per
   * `checkIntervalMs` (a keep-alive detection falls on the first frame looked at after it is due).
   */
  wantsFrame(tracking: TrackingState, nowMs: number): boolean {
    const o = this.options;
    if (tracking === 'acquiring') return true;
    if (tracking === 'steady') return nowMs - this.#lastCheckMs >= o.trackedIntervalMs;
    return nowMs - this.#lastMotionMs < o.holdMs || nowMs - this.#lastCheckMs >= o.checkIntervalMs;
  }

  /**
   * Decides for one decoded frame. `tracksOpen`: the tracker follows a face (then the detector always runs).
   * `nowMs`: the frame's monotonic time.
   */
  decide(image: RgbImage, tracksOpen: boolean, nowMs: number): MotionDecision {
    this.#lastCheckMs = nowMs;
    if (tracksOpen) {
      // Faces move the picture; the background is relearnt once they are gone.
      this.#background = null;
      this.#detectedOn = null;
      this.#lastMotionMs = nowMs;
      return this.#detect(nowMs, null, null);
    }
    const thumb = greyThumbnail(image);
    const background = this.#background;
    if (!background || background.length !== thumb.data.length) {
      this.#background = thumb.data.slice();
      return this.#detect(nowMs, null, thumb);
    }
    const changed = changedShare(thumb, background, this.options.threshold);
    const rate = this.options.backgroundRate;
    for (let i = 0; i < background.length; i++) background[i] += rate * (thumb.data[i] - background[i]);
    if (changed >= this.options.minArea) {
      this.#lastMotionMs = nowMs;
      return this.#detect(nowMs, changed, thumb);
    }
    const sinceDetect = nowMs - this.#lastDetectMs;
    if (sinceDetect >= this.options.keepaliveMs && (sinceDetect >= UNCHANGED_RECHECK_MS || this.#pictureChanged(thumb)))
      return this.#detect(nowMs, changed, thumb);
    return { detect: false, changed };
  }

  /**
   * Whether any thumbnail cell differs (beyond `threshold`, brightness compensated) from the last picture detected on.
   */
  #pictureChanged(thumb: GreyImage): boolean {
    const last = this.#detectedOn;
    return !last || last.length !== thumb.data.length || changedShare(thumb, last, this.options.threshold) > 0;
  }

  /** Forgets the background (a camera restarting, a paused camera resuming). */
  reset(): void {
    this.#background = null;
    this.#detectedOn = null;
    this.#lastDetectMs = -Infinity;
    this.#lastCheckMs = -Infinity;
    this.#lastMotionMs = -Infinity;
  }

  #detect(nowMs: number, changed: number | null, thumb: GreyImage | null): MotionDecision {
    this.#lastDetectMs = nowMs;
    this.#detectedOn = thumb ? thumb.data : null;
    return { detect: true, changed };
  }
}

/**
 * Share of pixels differing by more than `threshold` after matching the thumbnail's mean brightness to the
 * background's.
 */
export function changedShare(thumb: GreyImage, background: Float32Array, threshold: number): number {
  let sumT = 0;
  let sumB = 0;
  for (let i = 0; i < background.length; i++) {
    sumT += thumb.data[i];
    sumB += background[i];
  }
  // A lamp flickering or a camera's exposure stepping scales every pixel alike: divide it out.
  const gain = sumT > 1 ? sumB / sumT : 1;
  let changed = 0;
  for (let i = 0; i < background.length; i++) if (Math.abs(thumb.data[i] * gain - background[i]) > threshold) changed++;
  return changed / background.length;
}
