/**
 * Who a confirmed track is, and whether it is live (issue 23 §3, §4), decided once per track from its best
 * few frames, for every camera of the board (one instance, shared).
 *
 * Per track: each frame of a confirmed track adds a keypoint sample (for the temporal liveness check), and
 * while undecided goes through its decision window (src/recognition/track-window.ts: which frames, when it
 * closes; each good frame's embedding and P(live) start as it arrives). When the window closes, `embeddingsPerTrack`
 * of its frames are embedded, `max(embeddingsPerTrack, liveness.minFrames)` scored for liveness, and the
 * track's identity decided, off the frame loop; the pipeline is told at once (`watchChanges`). A name is final;
 * `unknown` is retried at most `maxAttempts` times in all, each time only with clearly better frames.
 * Everything is bounded: tracks, kept frames (and the models' work on them), samples; a track's state goes at
 * its end.
 *
 * Frames are combined by their mean embedding (unit embeddings averaged, renormalized), not by the best
 * single frame's similarity: the best of k frames gives an impostor k chances at the threshold, which was
 * chosen for one comparison per probe (manifest `recognition.far`); the mean keeps one comparison per track
 * and averages out the per-frame noise of pose and blur, which the embedder's own test-time flip does too.
 */
import { l2Normalize } from '../inference/face-embedder.js';
import {
  UNDECIDED_IDENTITY,
  type FramePixels,
  type RecognitionFace,
  type TrackIdentity,
  type TrackRecognizer,
} from '../pipeline/track-recognizer.js';
import type { GalleryContents } from './gallery-contents.js';
import { matchEmbedding } from './gallery-identify.js';
import { InFlightWork } from './in-flight-work.js';
import type { TrackDecision, TrackFaceSample, TrackRecognizerOptions } from './track-recognizer-options.js';
import { TrackWindow, type WindowFrame } from './track-window.js';

/** For the daemon's log of decisions (src/daemon/parts/recognition-part.ts). */
export type { TrackDecision } from './track-recognizer-options.js';

/** Keypoint samples kept per track (the temporal check uses at most 24, 150 ms apart). */
const MAX_SAMPLES = 48;
/** Liveness scores kept per track. */
const MAX_SCORES = 30;

interface TrackState<C> {
  readonly camera: string;
  readonly trackId: string;
  readonly window: TrackWindow<C>;
  readonly samples: TrackFaceSample[];
  readonly scores: number[];
  attempts: number;
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
  #gallery: GalleryContents;
  /** Counts `setGallery` calls: a decision that started under an older one may have missed a change. */
  #galleryGeneration = 0;
  readonly #tracks = new Map<string, TrackState<C>>();
  /** Decisions and models' work on kept frames running now. */
  readonly #inFlight = new InFlightWork();
  /** Who to tell, per camera, that it has changes to take. */
  readonly #listeners = new Map<string, Set<() => void>>();
  #warnedFull = false;

  constructor(options: TrackRecognizerOptions<C>) {
    this.#o = options;
    this.#gallery = options.gallery;
    this.#keep = Math.max(options.embeddingsPerTrack, options.liveness.minFrames);
    this.#windowFrames = Math.max(this.#keep, options.windowFrames ?? this.#keep + 2);
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
      if (await t.window.consider(face, timestampMs, pixels)) this.#startDecision(t);
    }
  }

  watchChanges(camera: string, listener: () => void): () => void {
    let listeners = this.#listeners.get(camera);
    if (!listeners) this.#listeners.set(camera, (listeners = new Set()));
    listeners.add(listener);
    return () => listeners.delete(listener);
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
    const window: TrackWindow<C> = new TrackWindow({
      keep: this.#keep,
      windowFrames: this.#windowFrames,
      windowMs: this.#o.windowMs ?? 300,
      close: this.#o.windowClose ?? 'good-frames',
      alignment: this.#o.embedder.alignment,
      capture: (face, pixels) => this.#o.liveness.capture(face, pixels),
      onGoodFrame: (frame) => this.#startWork(window, frame),
    });
    const t: TrackState<C> = {
      camera,
      trackId,
      window,
      samples: [],
      scores: [],
      attempts: 0,
      embedding: null,
      identity: UNDECIDED_IDENTITY,
      final: false,
      pending: false,
      deciding: false,
    };
    this.#tracks.set(k, t);
    return t;
  }

  /**
   * A good frame was kept: its P(live) starts now, and its embedding too while the window has fewer than
   * `embeddingsPerTrack` started and someone is enrolled (an empty gallery needs none). Off the frame loop: the
   * window's next frames do not wait for them, the decision does.
   */
  #startWork(window: TrackWindow<C>, frame: WindowFrame<C>): void {
    frame.live ??= this.#score(frame);
    const started = window.frames.filter((f) => f.embedding !== null).length;
    if (this.#gallery.people.length > 0 && started < this.#o.embeddingsPerTrack) frame.embedding ??= this.#embed(frame);
  }

  #score(frame: WindowFrame<C>): Promise<number> {
    return this.#inFlight.track(this.#o.liveness.score(frame.capture));
  }

  #embed(frame: WindowFrame<C>): Promise<Float32Array> {
    return this.#inFlight.track(this.#o.embedder.embedCrop(frame.crop));
  }

  /**
   * Decides off the frame loop: embedding three crops takes a few times a frame's budget (see README), and
   * the camera's frames (the other tracks, this one's keypoints) go on meanwhile. The result is reported at
   * the camera's next `observe`. One decision per track at a time; a track that ends meanwhile is forgotten
   * and its late result lands on a state nobody reads.
   */
  #startDecision(t: TrackState<C>): void {
    t.deciding = true;
    void this.#inFlight.track(
      this.#decide(t)
        .catch((err: unknown) => this.#o.onError?.(err, t.trackId))
        .finally(() => (t.deciding = false)),
    ); // cannot reject: its errors go to onError
  }

  /** Settles when no model work is running (tests, and a clean stop before the models close). */
  idle(): Promise<void> {
    return this.#inFlight.idle();
  }

  /** A track never embedded is decided again from its next frames once the gallery has someone in it. */
  #reopenIfEnrolled(t: TrackState<C>): void {
    if (this.#gallery.people.length === 0) return;
    t.final = false;
    t.window.reopen();
    t.attempts = Math.min(t.attempts, this.#maxAttempts - 1);
  }

  async #decide(t: TrackState<C>): Promise<void> {
    const generation = this.#galleryGeneration;
    const chosen = t.window.take();
    t.attempts++; // before the awaits: a failing model cannot make a track retry forever
    // The frames whose embedding started as they arrived, then the best others (an empty gallery: none).
    const embedded =
      this.#gallery.people.length > 0
        ? [...chosen.filter((f) => f.embedding !== null), ...chosen.filter((f) => f.embedding === null)].slice(
            0,
            this.#o.embeddingsPerTrack,
          )
        : [];
    const [embeddings, scores] = await Promise.all([
      Promise.all(embedded.map((f) => (f.embedding ??= this.#embed(f)))),
      Promise.all(chosen.map((f) => (f.live ??= this.#score(f)))),
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
    for (const listener of this.#listeners.get(t.camera) ?? []) listener();
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
