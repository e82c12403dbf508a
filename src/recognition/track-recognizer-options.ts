/**
 * What the per-track recognizer (src/recognition/track-recognizer.ts) is given and what it tells: the models it
 * calls (embedder, liveness check), its options with their defaults, and the decisions it reports.
 */
import type { LivenessVerdict } from '../pipeline/track-event.js';
import type { FramePixels, TrackIdentity } from '../pipeline/track-recognizer.js';
import type { CropAlignment } from '../vision/align-face.js';
import type { Box, DetectedFace, FaceKeypoints } from '../vision/face.js';
import type { GalleryContents } from './gallery-contents.js';
import type { WindowClose } from './track-window.js';

/** What the recognizer needs of the embedder (`FaceEmbedder` is one). */
export interface TrackEmbedder {
  /** The crop geometry the network was trained on (its manifest's `alignment`). */
  readonly alignment: CropAlignment;
  embedCrop(crop: Uint8Array): Promise<Float32Array>;
}

/** One frame of a track as the detector saw it (the liveness module's `KeypointSample`). */
export interface TrackFaceSample {
  readonly timeMs: number;
  readonly box: Box;
  readonly keypoints: FaceKeypoints;
}

/**
 * The liveness check, per frame and per track (src/liveness/track-liveness-check.ts implements it; the
 * daemon plugs it in, since recognition and liveness are modules of one layer). `C` is what it keeps of a
 * candidate frame (its own crop).
 */
export interface TrackLivenessCheck<C> {
  /** Scored frames needed for a verdict other than `unknown`. */
  readonly minFrames: number;
  capture(face: DetectedFace, pixels: FramePixels): Promise<C>;
  /** P(live) of one captured frame. */
  score(capture: C): Promise<number>;
  /** The track's verdict from every frame scored so far and its keypoint samples. */
  decide(scores: readonly number[], samples: readonly TrackFaceSample[]): LivenessVerdict;
}

export interface TrackRecognizerOptions<C> {
  readonly embedder: TrackEmbedder;
  readonly liveness: TrackLivenessCheck<C>;
  /** The gallery at start; `setGallery` replaces it. */
  readonly gallery: GalleryContents;
  /** Cosine similarity a name needs (src/recognition/recognition-threshold.ts). */
  readonly threshold: number;
  /** Lead over the second-best person a name needs. */
  readonly margin: number;
  /** Frames embedded per decision (`recognition.embeddings_per_track`). */
  readonly embeddingsPerTrack: number;
  /** Frames of a decision window. Default: frames kept + 2. */
  readonly windowFrames?: number;
  /** A window closes this long after its first frame once it holds enough frames, ms. Default 300. */
  readonly windowMs?: number;
  /**
   * When a window closes (src/recognition/track-window.ts): at the first `max(embeddingsPerTrack,
   * liveness.minFrames)` good frames (default), or at the full window's best (the earlier rule, for comparison).
   */
  readonly windowClose?: WindowClose;
  /** Tracks followed at once, all cameras; beyond it a new track stays undecided (never named). Default 32. */
  readonly maxTracks?: number;
  /** Decisions per track at most (the first and the retries of an `unknown`). Default 3. */
  readonly maxAttempts?: number;
  /** Told each decision (names and numbers only, never an embedding): the daemon logs it. */
  readonly onDecision?: (decision: TrackDecision) => void;
  /**
   * Told each new mean embedding of a track (a decision that embedded frames), for the heads on the embedding
   * (issue 24 §4: age where recognition runs, no second embedding). Biometric data: never log it or keep it
   * beyond the track. Synchronous; what it starts runs off the decision.
   */
  readonly onEmbedding?: (camera: string, trackId: string, embedding: Float32Array) => void;
  /** Told once when `maxTracks` is reached. */
  readonly onFull?: (maxTracks: number) => void;
  /** A decision failed (a model error, the models closed while stopping): the track stays as it was. */
  readonly onError?: (error: unknown, trackId: string) => void;
}

/** One decision, for the log. */
export interface TrackDecision {
  readonly camera: string;
  readonly trackId: string;
  readonly identity: TrackIdentity;
  /** 1 for the first decision of the track. */
  readonly attempt: number;
  /** Frames embedded and frames scored for liveness. */
  readonly embedded: number;
  readonly livenessFrames: number;
  /** 'gallery' when a new gallery changed an earlier decision. */
  readonly cause: 'frames' | 'gallery';
}
