/**
 * One camera pipeline's side of recognition (src/pipeline/track-recognizer.ts): the faces of confirmed tracks
 * go to the recognizer with their frame's pixels, decoded on demand; the identities it decides go into the
 * tracker as `update` events; ended tracks are forgotten.
 *
 * Identities are applied only on the pipeline's loop, before any of its events are built (a frame's, or a
 * between-frames publication the recognizer asked for through `watchChanges`), so no event built after a
 * decision or a gallery change carries the older person: in particular, none after a gallery removal carries
 * the removed name.
 */
import type { Logger } from 'pino';
import type { Frame, RgbImage } from '../capture/frame.js';
import { isFaceedgeError } from '../errors.js';
import { alignFace } from '../vision/align-face.js';
import { fullResolutionImage, type DetectionImage } from '../vision/decode-for-detection.js';
import type { DetectedFace } from '../vision/face.js';
import type { FaceTracker } from './face-tracker.js';
import type { TrackEvent } from './track-event.js';
import type { FramePixels, RecognitionFace, TrackRecognizer } from './track-recognizer.js';

export interface PipelineRecognitionOptions {
  readonly camera: string;
  readonly recognizer: TrackRecognizer;
  readonly tracker: FaceTracker;
  readonly log: Logger;
  /** Every recognition error, counted (each kind is also logged once). */
  readonly onError?: (error: Error) => void;
}

export class PipelineRecognition {
  readonly #o: PipelineRecognitionOptions;
  /** Kinds of recognition errors already logged (each is logged once; `onError` counts every one). */
  readonly #errorKinds = new Set<string>();

  constructor(options: PipelineRecognitionOptions) {
    this.#o = options;
    options.tracker.recognizeIdentities();
  }

  /**
   * Calls `wake` when the recognizer has changes for this camera between frames (a decision made off the frame
   * loop), so that the loop publishes them without waiting for the camera's next frame. Returns the unsubscribe;
   * a recognizer that cannot tell is read at every frame, as before.
   */
  watch(wake: () => void): () => void {
    return this.#o.recognizer.watchChanges?.(this.#o.camera, wake) ?? (() => undefined);
  }

  /**
   * Hands the faces of confirmed tracks to the recognizer, with their frame's pixels decoded on demand. A
   * failure (a broken crop, a model error) is reported once per kind and costs only this frame's recognition:
   * the tracker's events of the frame, `end`s included, still go out.
   */
  async observe(faces: readonly DetectedFace[], decoded: DetectionImage, frame: Frame): Promise<void> {
    const { tracker, camera, recognizer } = this.#o;
    const tracks = tracker.lastFrameTracks();
    const confirmed: RecognitionFace[] = [];
    faces.forEach((face, i) => {
      const track = tracks[i];
      if (track?.confirmed) confirmed.push({ trackId: track.id, face });
    });
    if (confirmed.length === 0) return;
    let full: Promise<RgbImage> | null = null;
    const image = () => (full ??= fullResolutionImage(decoded));
    const pixels: FramePixels = {
      image,
      alignedCrop: async (face, alignment) => alignFace(await image(), face, alignment),
    };
    try {
      await recognizer.observe(camera, confirmed, frame.timestampMs, pixels);
    } catch (err) {
      const kind = isFaceedgeError(err) ? err.code : err instanceof Error ? err.name : typeof err;
      this.#o.onError?.(err as Error);
      if (this.#errorKinds.has(kind)) return;
      this.#errorKinds.add(kind);
      this.#o.log.error({ err, seq: frame.seq }, 'recognition of a frame failed; its events go out without it');
    }
  }

  /**
   * Puts the identities the recognizer decided since it was last asked into the tracker, and returns the
   * `update` events they make. Called on every frame (with faces or not), between frames when woken, and
   * before tracks end.
   */
  applyIdentities(at: { timestampMs: number; wallTimeMs: number }): TrackEvent[] {
    const events: TrackEvent[] = [];
    // Head values first (they may arrive between frames, waking the loop as decisions do): a pair that changes a
    // track's published label or source is an `update` of its own, and an identity's `update` carries it too.
    for (const [trackId, values] of this.#o.recognizer.takeHeadValues?.(this.#o.camera) ?? [])
      for (const [name, logProbabilities] of values) {
        const event = this.#o.tracker.pairTrack(trackId, name, logProbabilities, at.timestampMs, at.wallTimeMs);
        if (event) events.push(event);
      }
    for (const [trackId, identity] of this.#o.recognizer.takeChanges(this.#o.camera)) {
      const event = this.#o.tracker.setIdentity(trackId, identity, at.timestampMs, at.wallTimeMs);
      if (event) events.push(event);
    }
    return events;
  }

  /** Makes the recognizer forget the tracks that `events` end. */
  forgetEnded(events: readonly TrackEvent[]): void {
    for (const e of events) if (e.type === 'end') this.#o.recognizer.forget(this.#o.camera, e.after.id);
  }
}
