/**
 * Who a confirmed track is, and whether it is live (issue 23 §3, §4), decided once per track from its best
 * few frames, for every camera of the board (one instance, shared).
 *
 * Per track: each frame of a confirmed track adds a keypoint sample (for the temporal liveness check);
 * during a decision window its frames are scored by size, sharpness and frontality
 * (`recognitionFrameScore`) and the best few kept, with their embedder crop and their liveness capture.
 * When the window is full (`windowFrames` frames, or `windowMs` after its first with enough kept), the best
 * `embeddingsPerTrack` are embedded, the best `max(embeddingsPerTrack, liveness.minFrames)` scored for
 * liveness, and the track's identity is decided, off the frame loop (reported at the camera's next frame). A name is final; `unknown` is retried at most
 * `maxAttempts` times in all, each time only with frames clearly better than the last window's best (a
 * person walking up to the door is small and far at first). Everything is bounded: tracks, kept frames,
 * samples; a track's state goes at its end.
 *
 * Frames are combined by their mean embedding (unit embeddings averaged, renormalized), not by the best
 * single frame's similarity: the best of k frames gives an impostor k chances at the threshold, which was
 * chosen for one comparison per probe (manifest `recognition.far`); the mean keeps one comparison per track
 * and averages out the per-frame noise of pose and blur, which the embedder's own test-time flip does too.
 */
import { l2Normalize } from '../inference/face-embedder.js';
import type { LivenessVerdict } from '../pipeline/track-event.js';
import {
  UNDECIDED_IDENTITY,
  type FramePixels,
  type RecognitionFace,
  type TrackIdentity,
  type TrackRecognizer,
} from '../pipeline/track-recognizer.js';
import type { CropAlignment } from '../vision/align-face.js';
import type { Box, DetectedFace, FaceKeypoints } from '../vision/face.js';
import { BestFrames } from './best-frames.js';
import type { GalleryContents } from './gallery-contents.js';
import { matchEmbedding } from './gallery-identify.js';
import { faceGeometryQuality, photoQuality, recognitionFrameScore } from './gallery-photo-quality.js';

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

/** A retry window takes only frames this much better than the previous window's best. */
const RETRY_GAIN = 1.25;
/** Keypoint samples kept per track (the temporal check uses at most 24, 150 ms apart). */
const MAX_SAMPLES = 48;
/** Liveness scores kept per track. */
const MAX_SCORES = 30;

interface Candidate<C> {
  readonly crop: Uint8Array;
  readonly capture: C;
}

interface TrackState<C> {
  readonly camera: string;
  readonly trackId: string;
  readonly frames: BestFrames<Candidate<C>>;
  windowStartMs: number | null;
  readonly samples: TrackFaceSample[];
  readonly scores: number[];
  attempts: number;
  /** Score a frame must beat to enter a retry window. */
  bar: number;
  /** Mean embedding of the last decision: re-matched when the gallery changes. In memory only. */
  embedding: Float32Array | null;
  identity: TrackIdentity;
  final: boolean;
  /** The identity changed since the camera's last `observe` returned. */
  pending: boolean;
  /** A decision (embedding, liveness scoring) is running for this track, off the frame loop. */
  deciding: boolean;
}

export class GalleryTrackRecognizer<C> implements TrackRecognizer {
  readonly #o: TrackRecognizerOptions<C>;
  readonly #keep: number;
  readonly #windowFrames: number;
  readonly #fullEyeDistancePx: number;
  #gallery: GalleryContents;
  /** Counts `setGallery` calls: a decision that started under an older one may have missed a change. */
  #galleryGeneration = 0;
  readonly #tracks = new Map<string, TrackState<C>>();
  /** Decisions running now (settled ones remove themselves). */
  readonly #inFlight = new Set<Promise<void>>();
  #warnedFull = false;

  constructor(options: TrackRecognizerOptions<C>) {
    this.#o = options;
    this.#gallery = options.gallery;
    this.#keep = Math.max(options.embeddingsPerTrack, options.liveness.minFrames);
    this.#windowFrames = Math.max(this.#keep, options.windowFrames ?? this.#keep + 2);
    const a = options.embedder.alignment;
    this.#fullEyeDistancePx = a.size / a.sideInEyeDistances;
  }

  /** Tracks followed now (for tests and stats). */
  get trackCount(): number {
    return this.#tracks.size;
  }

  /**
   * Matches against `gallery` from now on; every track decided by an embedding is matched again at once, and
   * a changed person is reported at the track's camera's next `observe` (a removed person's track is nobody).
   */
  setGallery(gallery: GalleryContents): void {
    this.#gallery = gallery;
    this.#galleryGeneration++;
    for (const t of this.#tracks.values()) {
      if (!t.embedding) {
        // Decided against an empty gallery, so never embedded: decide again from its next frames (the first
        // person enrolled may be the one in view, e.g. from the live view's "enrol this tracked face"). A
        // decision running now is handled when it finishes (#decide).
        if (t.attempts > 0) this.#reopenIfEnrolled(t);
        continue;
      }
      const person = this.#match(t.embedding);
      if (person.name === t.identity.person.name && person.similarity === t.identity.person.similarity) continue;
      this.#decided(t, { ...t.identity, person }, 'gallery', 0, 0);
      t.final = person.name !== null || t.attempts >= this.#maxAttempts;
    }
  }

  async observe(
    camera: string,
    faces: readonly RecognitionFace[],
    timestampMs: number,
    pixels: FramePixels,
  ): Promise<void> {
    for (const { trackId, face } of faces) {
      const t = this.#state(camera, trackId);
      if (!t) continue;
      t.samples.push({ timeMs: timestampMs, box: face.box, keypoints: face.keypoints });
      if (t.samples.length > MAX_SAMPLES) t.samples.shift();
      if (t.final || t.deciding) continue;
      await this.#consider(t, face, timestampMs, pixels);
    }
  }

  takeChanges(camera: string): ReadonlyMap<string, TrackIdentity> {
    const changed = new Map<string, TrackIdentity>();
    for (const t of this.#tracks.values()) {
      if (t.camera !== camera || !t.pending) continue;
      t.pending = false;
      changed.set(t.trackId, t.identity);
    }
    return changed;
  }

  forget(camera: string, trackId: string): void {
    this.#tracks.delete(key(camera, trackId));
    // There is room again: the next time it fills up is worth a warning of its own.
    if (this.#tracks.size < this.#maxTracks) this.#warnedFull = false;
  }

  get #maxTracks(): number {
    return this.#o.maxTracks ?? 32;
  }

  get #maxAttempts(): number {
    return this.#o.maxAttempts ?? 3;
  }

  #state(camera: string, trackId: string): TrackState<C> | null {
    const k = key(camera, trackId);
    const known = this.#tracks.get(k);
    if (known) return known;
    const max = this.#maxTracks;
    if (this.#tracks.size >= max) {
      if (!this.#warnedFull) this.#o.onFull?.(max);
      this.#warnedFull = true;
      return null;
    }
    const t: TrackState<C> = {
      camera,
      trackId,
      frames: new BestFrames(this.#keep),
      windowStartMs: null,
      samples: [],
      scores: [],
      attempts: 0,
      bar: 0,
      embedding: null,
      identity: UNDECIDED_IDENTITY,
      final: false,
      pending: false,
      deciding: false,
    };
    this.#tracks.set(k, t);
    return t;
  }

  /** One frame of an undecided track: into the window if it is good enough, then a decision if it is full. */
  async #consider(t: TrackState<C>, face: DetectedFace, timeMs: number, pixels: FramePixels): Promise<void> {
    t.windowStartMs ??= timeMs;
    // Size and pose bound the score from above; a frame that cannot make it costs no crop.
    const bound = recognitionFrameScore(
      { ...faceGeometryQuality(face), sharpness: Number.MAX_VALUE },
      this.#fullEyeDistancePx,
    );
    if (bound <= t.bar || !t.frames.wouldKeep(bound)) {
      t.frames.skip();
    } else {
      const { alignment } = this.#o.embedder;
      const crop = await pixels.alignedCrop(face, alignment);
      const score = recognitionFrameScore(photoQuality(face, crop, alignment.size), this.#fullEyeDistancePx);
      if (score <= t.bar || !t.frames.wouldKeep(score)) t.frames.skip();
      else t.frames.offer({ score, timeMs, value: { crop, capture: await this.#o.liveness.capture(face, pixels) } });
    }
    const full = t.frames.offered >= this.#windowFrames || timeMs - t.windowStartMs >= (this.#o.windowMs ?? 300);
    if (!full) return;
    // The first window waits for enough frames; a retry decides on whatever better frames came (its liveness
    // scores add to the earlier windows'), and starts over when none did.
    if (t.frames.size >= (t.attempts === 0 ? this.#keep : 1)) {
      this.#startDecision(t);
      return;
    }
    if (t.attempts > 0 && t.frames.offered >= this.#windowFrames) {
      t.frames.clear();
      t.windowStartMs = null;
    }
  }

  /**
   * Decides off the frame loop: embedding three crops takes a few times a frame's budget (see README), and
   * the camera's frames (the other tracks, this one's keypoints) go on meanwhile. The result is reported at
   * the camera's next `observe`. One decision per track at a time; a track that ends meanwhile is forgotten
   * and its late result lands on a state nobody reads.
   */
  #startDecision(t: TrackState<C>): void {
    t.deciding = true;
    const decision = this.#decide(t)
      .catch((err: unknown) => this.#o.onError?.(err, t.trackId))
      .finally(() => {
        t.deciding = false;
        this.#inFlight.delete(decision);
      });
    this.#inFlight.add(decision);
  }

  /** Settles when no decision is running (tests, and a clean stop before the models close). */
  async idle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  /** A track never embedded is decided again from its next frames once the gallery has someone in it. */
  #reopenIfEnrolled(t: TrackState<C>): void {
    if (this.#gallery.people.length === 0) return;
    t.final = false;
    t.bar = 0;
    t.attempts = Math.min(t.attempts, this.#maxAttempts - 1);
  }

  async #decide(t: TrackState<C>): Promise<void> {
    const generation = this.#galleryGeneration;
    const chosen = t.frames.best(this.#keep);
    t.bar = t.frames.topScore * RETRY_GAIN;
    t.frames.clear();
    t.windowStartMs = null;
    t.attempts++; // before the awaits: a failing model cannot make a track retry forever
    const embedded = this.#gallery.people.length > 0 ? chosen.slice(0, this.#o.embeddingsPerTrack) : [];
    const [embeddings, scores] = await Promise.all([
      Promise.all(embedded.map((f) => this.#o.embedder.embedCrop(f.value.crop))),
      Promise.all(chosen.map((f) => this.#o.liveness.score(f.value.capture))),
    ]);
    t.scores.push(...scores);
    if (t.scores.length > MAX_SCORES) t.scores.splice(0, t.scores.length - MAX_SCORES);
    // An empty gallery names nobody and needs no embedding (a board without enrolled people costs little).
    t.embedding = embeddings.length > 0 ? meanEmbedding(embeddings) : null;
    if (t.embedding) this.#o.onEmbedding?.(t.camera, t.trackId, t.embedding);
    const person = t.embedding ? this.#match(t.embedding) : UNDECIDED_IDENTITY.person;
    const liveness = this.#o.liveness.decide(t.scores, t.samples);
    t.final = person.name !== null || t.attempts >= this.#maxAttempts || embeddings.length === 0;
    // Matched against the gallery of now, but embedded (or not) for the one of its start: a track that was not
    // embedded because the gallery was empty then, and has people now, is not final (the first enrolment,
    // made while this decision ran, must not be lost).
    if (generation !== this.#galleryGeneration && embeddings.length === 0) this.#reopenIfEnrolled(t);
    this.#decided(t, { person, liveness }, 'frames', embedded.length, chosen.length);
  }

  #match(embedding: Float32Array): TrackIdentity['person'] {
    const m = matchEmbedding(this.#gallery, embedding, { threshold: this.#o.threshold, margin: this.#o.margin });
    return { name: m.person, similarity: m.similarity };
  }

  #decided(
    t: TrackState<C>,
    identity: TrackIdentity,
    cause: TrackDecision['cause'],
    embedded: number,
    livenessFrames: number,
  ): void {
    t.identity = identity;
    t.pending = true;
    this.#o.onDecision?.({
      camera: t.camera,
      trackId: t.trackId,
      identity,
      attempt: t.attempts,
      embedded,
      livenessFrames,
      cause,
    });
  }
}

function key(camera: string, trackId: string): string {
  return `${camera}\u0000${trackId}`;
}

/** The mean of unit embeddings, renormalized (see the file's comment for why the mean). */
export function meanEmbedding(embeddings: readonly Float32Array[]): Float32Array {
  const sum = new Float32Array(embeddings[0].length);
  for (const e of embeddings) for (let i = 0; i < e.length; i++) sum[i] += e[i];
  return l2Normalize(sum);
}
