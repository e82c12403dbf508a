/**
 * One track's decision window (issue 23 §3): which of its frames a decision uses, and when it closes.
 *
 * Each frame of an undecided track is scored by size, sharpness and frontality (`recognitionFrameScore`; size
 * and pose bound the score from above, so a frame that cannot be kept costs no crop) and the best few are kept,
 * with their embedder crop and their liveness capture. A frame is *good* when it also passes the quality floor
 * ({@link isGoodRecognitionFrame}: the enrolment floor of size and pose, and a full-resolution crop not blurred).
 *
 * Closing (`close: 'good-frames'`, the default): the window closes as soon as it holds `keep` good frames, and
 * at the latest after `windowFrames` frames (or `windowMs` after its first) with `keep` frames of any quality.
 * Each good frame's models (its embedding, its P(live)) are started as it arrives, off the frame loop, so when
 * the window closes only the last frame's work is left. Started work is seldom wasted: frames below the floor
 * are not started before the close, and a good frame is displaced only by a better frame while fewer than `keep`
 * good ones are in (a good frame scoring below a kept frame under the floor: a small face beside a turned one).
 *
 * `close: 'full-window'` is the earlier rule, kept for comparison (`scripts/recognition/first-decisions.ts`):
 * the best `keep` of `windowFrames` frames, their models started only when it closes.
 *
 * A retry window (after an `unknown`) takes only frames clearly better than the last window's best (a person
 * walking up to the door is small and far at first), and closes on whatever better frames came.
 */
import type { FramePixels } from '../pipeline/track-recognizer.js';
import type { CropAlignment } from '../vision/align-face.js';
import type { DetectedFace } from '../vision/face.js';
import { BestFrames } from './best-frames.js';
import {
  enrolmentRefusal,
  faceGeometryQuality,
  LOW_SHARPNESS,
  photoQuality,
  recognitionFrameScore,
  type PhotoQuality,
} from './gallery-photo-quality.js';

/** When a window closes (see the file's comment). */
export type WindowClose = 'good-frames' | 'full-window';

/** A frame kept for a decision, with the models' work on it once started. */
export interface WindowFrame<C> {
  readonly crop: Uint8Array;
  readonly capture: C;
  readonly score: number;
  readonly timeMs: number;
  /** Its embedding, once started (null: not started, e.g. while the gallery is empty). */
  embedding: Promise<Float32Array> | null;
  /** Its P(live), once started. */
  live: Promise<number> | null;
}

export interface TrackWindowOptions<C> {
  /** Frames a decision uses (embedded or scored for liveness). */
  readonly keep: number;
  /** Frames of a window at most (kept or not). */
  readonly windowFrames: number;
  /** A window holding `keep` frames closes this long after its first frame, ms. */
  readonly windowMs: number;
  readonly close: WindowClose;
  /** The embedder's crop geometry. */
  readonly alignment: CropAlignment;
  /** The liveness check's capture of a candidate frame. */
  readonly capture: (face: DetectedFace, pixels: FramePixels) => Promise<C>;
  /** Starts the models on a good frame as it is kept (`good-frames` only). */
  readonly onGoodFrame: (frame: WindowFrame<C>) => void;
}

/** A retry window takes only frames this much better than the previous window's best. */
const RETRY_GAIN = 1.25;

/**
 * Whether a frame is good enough to decide on without waiting for better ones: the face passes the enrolment
 * floor (eyes at least `MIN_ENROL_EYE_DISTANCE_PX` apart, head turned at most `MAX_ENROL_YAW_DEG`), and, when
 * its crop is not upscaled (eyes `fullEyeDistancePx` apart or more), the crop is not blurred (`LOW_SHARPNESS`).
 * An upscaled crop's Laplacian measures the upscaling more than the blur: the head-pose test clip's sharp faces,
 * 30 px between the eyes, measure 12–16, under the floor in every frame; among such frames the score still
 * ranks by sharpness.
 */
export function isGoodRecognitionFrame(quality: PhotoQuality, fullEyeDistancePx: number): boolean {
  if (enrolmentRefusal(quality) !== null) return false;
  return quality.eye_distance_px < fullEyeDistancePx || quality.sharpness >= LOW_SHARPNESS;
}

export class TrackWindow<C> {
  readonly #o: TrackWindowOptions<C>;
  readonly #fullEyeDistancePx: number;
  readonly #frames: BestFrames<WindowFrame<C>>;
  #startMs: number | null = null;
  /** Good frames kept in this window, and which they are. */
  #good = 0;
  readonly #goodFrames = new WeakSet<WindowFrame<C>>();
  /** Windows taken so far: the first waits for `keep` frames, a retry decides on whatever better came. */
  #taken = 0;
  /**
   * Size × frontality a frame must beat to enter a retry window: the last window's best by {@link RETRY_GAIN}.
   * Geometry only, known before any pixel is read, so that the frames of a track waiting for a retry (a
   * stranger, for as long as it stays) cost no crop: with a bar on the whole score, 116 of the head-pose clip's
   * 216 track-frames were cropped, most to be refused; 16 are now (scripts/recognition/first-decisions.ts).
   */
  #bar = 0;
  /** The best size × frontality kept in this window. */
  #topGeometry = 0;

  constructor(options: TrackWindowOptions<C>) {
    this.#o = options;
    this.#frames = new BestFrames(options.keep);
    this.#fullEyeDistancePx = options.alignment.size / options.alignment.sideInEyeDistances;
  }

  /** The frames kept now, best first (their started work included). */
  get frames(): readonly WindowFrame<C>[] {
    return this.#frames.best().map((f) => f.value);
  }

  /**
   * One frame of the track: kept when it is among the best so far (and better than a retry's bar). Returns
   * whether the window is closed now, so that a decision should start ({@link take}).
   */
  async consider(face: DetectedFace, timeMs: number, pixels: FramePixels): Promise<boolean> {
    this.#startMs ??= timeMs;
    const geometry = faceGeometryQuality(face);
    const bound = recognitionFrameScore({ ...geometry, sharpness: Number.MAX_VALUE }, this.#fullEyeDistancePx);
    if (bound <= this.#bar || !this.#frames.wouldKeep(bound) || this.#holdsEnoughGood()) {
      this.#frames.skip();
    } else {
      const { alignment } = this.#o;
      const crop = await pixels.alignedCrop(face, alignment);
      const quality = photoQuality(face, crop, alignment.size);
      const score = recognitionFrameScore(quality, this.#fullEyeDistancePx);
      if (!this.#frames.wouldKeep(score)) this.#frames.skip();
      else {
        this.#topGeometry = Math.max(this.#topGeometry, bound);
        await this.#keep(face, pixels, crop, score, timeMs, isGoodRecognitionFrame(quality, this.#fullEyeDistancePx));
      }
    }
    return this.#closed(timeMs);
  }

  /**
   * The frames of the closed window, best first, and a new window: a retry's frames must beat this one's best
   * size × frontality by {@link RETRY_GAIN}.
   */
  take(): WindowFrame<C>[] {
    const chosen = this.frames.slice();
    this.#bar = this.#topGeometry * RETRY_GAIN;
    this.#taken++;
    this.#reset();
    return chosen;
  }

  /** Forgets the window's frames and any retry bar: the next frames decide as a first window does. */
  reopen(): void {
    this.#bar = 0;
    this.#reset();
  }

  /**
   * With `good-frames`, a window already holding `keep` good frames closes before it sees another; a good frame
   * is never displaced (its started work would be wasted).
   */
  #holdsEnoughGood(): boolean {
    return this.#o.close === 'good-frames' && this.#good >= this.#o.keep;
  }

  async #keep(
    face: DetectedFace,
    pixels: FramePixels,
    crop: Uint8Array,
    score: number,
    timeMs: number,
    good: boolean,
  ): Promise<void> {
    const frame: WindowFrame<C> = {
      crop,
      capture: await this.#o.capture(face, pixels),
      score,
      timeMs,
      embedding: null,
      live: null,
    };
    const displaced = this.#frames.size >= this.#o.keep ? this.#frames.best().at(-1)?.value : undefined;
    this.#frames.offer({ score, timeMs, value: frame });
    if (displaced && this.#isGood(displaced)) this.#good--;
    if (!good) return;
    this.#good++;
    this.#goodFrames.add(frame);
    if (this.#o.close === 'good-frames') this.#o.onGoodFrame(frame);
  }

  #isGood(frame: WindowFrame<C>): boolean {
    return this.#goodFrames.has(frame);
  }

  #closed(timeMs: number): boolean {
    const { keep, windowFrames, windowMs, close } = this.#o;
    if (close === 'good-frames' && this.#good >= keep) return true;
    const ended = this.#frames.offered >= windowFrames || timeMs - (this.#startMs ?? timeMs) >= windowMs;
    if (!ended) return false;
    if (this.#frames.size >= (this.#taken === 0 ? keep : 1)) return true;
    // A retry window that saw its frames and kept none starts over (a first one keeps waiting for `keep`).
    if (this.#taken > 0 && this.#frames.offered >= windowFrames) this.#reset();
    return false;
  }

  #reset(): void {
    this.#topGeometry = 0;
    this.#frames.clear();
    this.#startMs = null;
    this.#good = 0;
  }
}
