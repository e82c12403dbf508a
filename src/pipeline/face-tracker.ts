/**
 * IoU/centre tracker with stable ids and a per-track class decision; each track is matched where its last
 * motion puts it at the new frame's time (frames may be 200 ms apart). One event stream per face:
 * `new` once a track is confirmed (enough frames), `update` when its class flips or its score moves,
 * at most every `updateIntervalMs`, and `end` when it has been missing for too long. Never one
 * message per frame.
 *
 * The tracker owns its tracks' lifecycle; a track's own bookkeeping (observing, matching) is
 * `tracked-face.ts`, what is published of it `track-snapshot.ts`, its options and defaults
 * `tracker-options.ts`.
 */
import type { PairingRules } from '../classification/paired-decision.js';
import { FaceedgeError } from '../errors.js';
import { clearConfidence } from '../classification/label-vote.js';
import { definedValues } from '../schema/defined-values.js';
import type { TrackingState } from './motion-gate.js';
import type { Box, TrackEvent, TrackSnapshot } from './track-event.js';
import { matchTracks, observeTrack, startTrack, type FaceObservation, type TrackedFace } from './tracked-face.js';
import { votedModels, type VotedModel } from './tracked-models.js';
import type { TrackIdentity } from './track-recognizer.js';
import { identityChanged, trackSnapshot, worthUpdate, type SnapshotContext } from './track-snapshot.js';
import { TRACKER_DEFAULTS, type TrackerOptions } from './tracker-options.js';

// The tracker's contract, where its users have always imported it from.
export type { FaceObservation } from './tracked-face.js';
export { UNSURE_CLASS } from './track-snapshot.js';
export { TRACKER_DEFAULTS, type TrackerOptions } from './tracker-options.js';

/** A track seen in the last frame (see {@link FaceTracker.visibleTracks}). */
export interface VisibleTrack extends TrackSnapshot {
  /** True once the track's `new` event has been published. */
  readonly confirmed: boolean;
}

/** A track that a face of the last frame continued or started (see {@link FaceTracker.lastFrameTracks}). */
export interface ObservedTrack {
  readonly id: string;
  /** True once the track's `new` event has been published. */
  readonly confirmed: boolean;
}

export class FaceTracker {
  #o: Required<TrackerOptions>;
  #tracks: TrackedFace[] = [];
  #nextId = 1;
  /** Snapshots carry `person` and `liveness` (recognition on); off, they are as before issue 23. */
  #recognizing = false;
  /** The track each observation of the last `update` continued or started, in observation order. */
  #lastFrame: TrackedFace[] = [];

  constructor(options: TrackerOptions) {
    this.#o = { ...TRACKER_DEFAULTS, ...definedValues(options) } as Required<TrackerOptions>;
    this.#nextId = this.#o.firstId;
    if (options.moreModels?.length && options.attributeName === undefined)
      throw new FaceedgeError('CONFIG_INVALID', 'a tracker of several models needs the first one named');
  }

  /** Changes thresholds at run time (the `options` bridge command); identity options stay. */
  retune(options: Partial<Omit<TrackerOptions, 'camera' | 'labels' | 'model'>>): void {
    this.#o = { ...this.#o, ...definedValues(options) };
  }

  /**
   * The model id put into snapshots from now on (after `model/reload`), its unsure floor where it has one (a
   * recalibrated model of the same labels), and its pairing with a head where it has one (whether the pair's
   * calibration was fitted with this model: `PairingRules.imageOnly`).
   */
  setModel(model: string, unsureFloor?: number, pairing?: PairingRules): void {
    this.#o = { ...this.#o, model, ...definedValues({ unsureFloor, pairing }) };
  }

  /** A further model was reloaded: its unsure floor and its pairing (as for {@link setModel}) from now on. */
  setAttributeModel(name: string, unsureFloor: number, pairing?: PairingRules): void {
    const more = this.#o.moreModels ?? [];
    const swapped = (m: (typeof more)[number]) => ({ ...m, unsureFloor, ...definedValues({ pairing }) });
    this.#o = { ...this.#o, moreModels: more.map((m) => (m.name === name ? swapped(m) : m)) };
  }

  #models(): VotedModel[] {
    return votedModels(this.#o);
  }

  /**
   * From now on, snapshots carry `person` and `liveness` (issue 23): undecided until {@link setIdentity}
   * says otherwise. Call before the first frame; without it snapshots are exactly as before.
   */
  recognizeIdentities(): void {
    this.#recognizing = true;
  }

  /**
   * The track each observation of the last {@link update} went to, in the observations' order (every
   * observation continues or starts one).
   */
  lastFrameTracks(): ObservedTrack[] {
    return this.#lastFrame.map((t) => ({ id: t.id, confirmed: t.published !== null }));
  }

  /**
   * Records what recognition decided about track `id`. A confirmed track whose published person or liveness
   * differs gets an `update` at once (not held back by `updateIntervalMs`: a lock waits for it); a track not
   * confirmed yet carries the identity in its `new`. Null when nothing is to be published (unknown or ended
   * track, no change, recognition off).
   */
  setIdentity(id: string, identity: TrackIdentity, nowMs: number, wallTimeMs: number): TrackEvent | null {
    const t = this.#tracks.find((track) => track.id === id);
    if (!t || !this.#recognizing) return null;
    t.identity = identity;
    const prev = t.published;
    if (!prev || !identityChanged(prev, identity)) return null;
    return this.#emit(t, 'update', nowMs, wallTimeMs);
  }

  /**
   * The head on the embedding of the model named `name` has a value for track `id` (its log-probabilities,
   * one per label): that model's decision of the track is the pair's from now on (src/classification/
   * paired-decision.ts). A confirmed track whose published label or source of that model changes gets an
   * `update` at once (the head answers between frames; a person walking through may get no other update);
   * else it goes out with the track's next event. Null for a track that has ended, a model without pairing,
   * or no change.
   */
  pairTrack(
    id: string,
    name: string,
    headLogProbabilities: readonly number[],
    nowMs: number,
    wallTimeMs: number,
  ): TrackEvent | null {
    const t = this.#tracks.find((track) => track.id === id);
    const k = this.#models().findIndex((m) => m.name === name && m.rules.pairing);
    if (!t || k < 0) return null;
    t.votes[k].pair(headLogProbabilities);
    const was = t.published?.attributes?.[name];
    if (!was) return null;
    const now = trackSnapshot(t, this.#snapshotContext(), false, wallTimeMs).attributes?.[name];
    if (now && now.label === was.label && now.source === was.source) return null;
    return this.#emit(t, 'update', nowMs, wallTimeMs);
  }

  /** Live tracks that have been reported (for `<cam>/face` ON/OFF). */
  get activeCount(): number {
    return this.#tracks.filter((t) => t.published).length;
  }

  /** Live tracks, reported or not yet (a face seen for fewer than `minFrames` frames counts too). */
  get trackCount(): number {
    return this.#tracks.length;
  }

  /**
   * `idle` without tracks; `acquiring` while some track is not confirmed yet (its `new` event waits for
   * `minFrames` frames: the motion gate then looks at every frame, so a face detected only now and then
   * gets every chance); else `steady`, also while a confirmed face is missing (it is looked for at the
   * steady rate until it ends).
   */
  get state(): TrackingState {
    if (this.#tracks.length === 0) return 'idle';
    return this.#tracks.every((t) => t.published) ? 'steady' : 'acquiring';
  }

  /**
   * The tracks seen in the last frame, as the live view draws them: `confirmed` once the track's
   * `new` event is out (before that it may still be a one-frame false detection). Fresh objects.
   */
  visibleTracks(): VisibleTrack[] {
    return this.#tracks
      .filter((t) => t.missed === 0)
      .map((t) => ({ ...trackSnapshot(t, this.#snapshotContext(), false, 0), confirmed: t.published !== null }));
  }

  /**
   * Feeds one frame's observations. Returns the events this frame causes, oldest track first.
   * @param nowMs monotonic frame time (ms) — drives update throttling.
   * @param wallTimeMs wall-clock frame time (ms since epoch) — goes into payloads.
   */
  update(observations: readonly FaceObservation[], nowMs: number, wallTimeMs: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    const models = this.#models();
    const matches = this.#match(
      observations.map((o) => o.box),
      nowMs,
    );
    const matched = new Set<TrackedFace>();
    const frameTracks: TrackedFace[] = [];
    observations.forEach((o, i) => {
      const t = matches.get(i);
      if (!t) return;
      matched.add(t);
      frameTracks[i] = t;
      observeTrack(t, o, models, nowMs);
    });
    for (const t of this.#tracks) if (!matched.has(t)) t.missed++;
    observations.forEach((o, i) => {
      if (matches.has(i)) return;
      const t = startTrack(`${this.#o.camera}-${this.#nextId++}`, o.box, models, nowMs, wallTimeMs);
      observeTrack(t, o, models, nowMs);
      this.#tracks.push(t);
      frameTracks[i] = t;
    });
    this.#lastFrame = frameTracks;
    const survivors: TrackedFace[] = [];
    for (const t of this.#tracks) {
      if (t.missed > this.#o.maxMissedFrames) {
        if (t.published) events.push(this.#emit(t, 'end', nowMs, wallTimeMs));
        continue;
      }
      survivors.push(t);
      if (t.missed > 0) continue;
      if (!t.published) {
        if (t.frames >= this.#o.minFrames && t.votes[0].classified > 0)
          events.push(this.#emit(t, 'new', nowMs, wallTimeMs));
      } else if (worthUpdate(t, t.published, this.#snapshotContext(), this.#o, nowMs)) {
        events.push(this.#emit(t, 'update', nowMs, wallTimeMs));
      }
    }
    this.#tracks = survivors;
    return events;
  }

  /** Ends every reported track (source ended, daemon stopping). */
  flush(nowMs: number, wallTimeMs: number): TrackEvent[] {
    const events = this.#tracks.filter((t) => t.published).map((t) => this.#emit(t, 'end', nowMs, wallTimeMs));
    this.#tracks = [];
    this.#lastFrame = [];
    return events;
  }

  /**
   * For each box of the coming frame, whether its face should be classified (see `classifyIntervalMs`):
   * a face that starts a track, one whose track is in its first `minFrames` frames, one whose class is
   * not clear (confidence below 0.5 + `hysteresis`: every frame counts where the decision could go either
   * way, so such a track is decided exactly as with every-frame classification), or one whose track was
   * last classified at least `classifyIntervalMs` before `nowMs`. Matching is the one `update` does with
   * the same boxes, so the answers hold for the `update` call of that frame.
   */
  classificationDue(boxes: readonly Box[], nowMs: number): boolean[] {
    return this.classificationsDue(boxes, nowMs).map((due) => due[0]);
  }

  /**
   * {@link classificationDue} for every model: per box, per model (the first, then `moreModels`), whether
   * that model should classify the face in the coming frame, each on its own interval.
   */
  classificationsDue(boxes: readonly Box[], nowMs: number): boolean[][] {
    const matches = this.#match(boxes, nowMs);
    const models = this.#models();
    return boxes.map((_, i) => {
      const t = matches.get(i);
      return models.map((m, k) => {
        const vote = t?.votes[k];
        if (!vote || vote.classified < this.#o.minFrames || nowMs - vote.classifiedAtMs >= m.intervalMs) return true;
        return vote.decision(m.rules).confidence < clearConfidence(m.rules);
      });
    });
  }

  #match(boxes: readonly Box[], nowMs: number): Map<number, TrackedFace> {
    return matchTracks(this.#tracks, boxes, nowMs, this.#o.iouThreshold);
  }

  #snapshotContext(): SnapshotContext {
    const { camera, model, attributeName } = this.#o;
    return { camera, model, attributeName, models: this.#models(), recognizing: this.#recognizing };
  }

  #emit(t: TrackedFace, type: TrackEvent['type'], nowMs: number, wallTimeMs: number): TrackEvent {
    const after = trackSnapshot(t, this.#snapshotContext(), type === 'end', wallTimeMs);
    const event: TrackEvent = { type, before: t.published, after, frame_timestamp_ms: nowMs };
    t.published = after;
    t.publishedAtMs = nowMs;
    return event;
  }
}
