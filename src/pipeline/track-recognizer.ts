/**
 * The pipeline's hook for recognition (issue 23 §3): who a confirmed track is, and whether it is live. The
 * pipeline (layer 4) cannot import recognition (layer 5), so it calls this interface, as it calls the
 * `Classifier`; the daemon plugs in an implementation (src/recognition/track-recognizer.ts). Absent, the
 * pipeline and the tracker behave exactly as before: no `person`, no `liveness` in snapshots.
 */
import type { RgbImage } from '../capture/frame.js';
import type { CropAlignment } from '../vision/align-face.js';
import type { DetectedFace } from '../vision/face.js';
import type { LivenessVerdict, PersonMatch } from './track-event.js';

/** What a track is known to be: both fields of the shared contract (src/pipeline/track-event.ts). */
export interface TrackIdentity {
  readonly person: PersonMatch;
  readonly liveness: LivenessVerdict;
}

/** The identity of a track nothing has been decided for yet: nobody, liveness unknown. */
export const UNDECIDED_IDENTITY: TrackIdentity = {
  person: { name: null, similarity: null },
  liveness: { outcome: 'unknown', score: null },
};

/** One face of a confirmed track in the frame being analysed. */
export interface RecognitionFace {
  /** The track's id (`<camera>-<n>`). */
  readonly trackId: string;
  /** The detection, source-frame pixels, keypoints included. */
  readonly face: DetectedFace;
}

/**
 * The frame's pixels, decoded only when a recognizer asks for them (most frames of a decided track never
 * do). Both calls share one full-resolution decode per frame.
 */
export interface FramePixels {
  /** The aligned crop of `face` at `alignment` (side² × 3 RGB bytes), from the full-resolution frame. */
  alignedCrop(face: DetectedFace, alignment: CropAlignment): Promise<Uint8Array>;
  /**
   * The whole frame at full resolution, for crops of other geometries (the anti-spoofing network's crop is
   * the detector box scaled and clamped to the frame's edges).
   */
  image(): Promise<RgbImage>;
}

/** What the pipeline needs of a recognizer (src/recognition/track-recognizer.ts implements it). */
export interface TrackRecognizer {
  /**
   * Sees one frame's faces of confirmed tracks of `camera` (every frame they are in: a decided track costs a
   * map lookup). Decisions finish off the frame loop; {@link takeChanges} hands them out. `timestampMs` is the
   * frame's monotonic time.
   */
  observe(camera: string, faces: readonly RecognitionFace[], timestampMs: number, pixels: FramePixels): Promise<void>;
  /**
   * The identities of `camera`'s tracks that changed since the last call, by track id (a track's decision, or a
   * new gallery's verdict on it), each handed out once. The pipeline applies them before it builds a frame's
   * events, so no event built after a decision carries the older person.
   */
  takeChanges(camera: string): ReadonlyMap<string, TrackIdentity>;
  /**
   * What heads on the face embedding said of `camera`'s tracks since the last call (issue 24 §4): by track id,
   * by model name, the head's log-probabilities (one per label), each handed out once. Optional: a recognizer
   * without heads has none. The pipeline hands them to the tracker (`FaceTracker.pairTrack`) with the identities.
   */
  takeHeadValues?(camera: string): ReadonlyMap<string, ReadonlyMap<string, readonly number[]>>;
  /**
   * Calls `listener` whenever `camera` has changes to take (a decision finished off the frame loop, a new
   * gallery's verdict, a head's value), so that the pipeline publishes them between frames instead of at the camera's next
   * frame (up to a frame interval sooner: 67 ms at 15 fps). The listener only schedules; it must not take the
   * changes itself. Returns the unsubscribe. Optional: without it, changes are taken at each frame.
   */
  watchChanges?(camera: string, listener: () => void): () => void;
  /** The track ended: forget everything about it (its crops, its embedding). */
  forget(camera: string, trackId: string): void;
}
