/**
 * IoU/centre tracker with stable ids and a per-track class decision; each track is matched where its last
 * motion puts it at the new frame's time (frames may be 200 ms apart). One event stream per face:
 * `new` once a track is confirmed (enough frames), `update` when its class flips or its score moves,
 * at most every `updateIntervalMs`, and `end` when it has been missing for too long. Never one
 * message per frame.
 */
import { FaceedgeError } from '../errors.js';
import { argmax, softmax, UNSURE_LABEL } from '../classification/classification.js';
import { definedValues } from '../schema/defined-values.js';
import type { TrackingState } from './motion-gate.js';
import type { Box, TrackEvent, TrackSnapshot } from './track-event.js';
import { UNDECIDED_IDENTITY, type TrackIdentity } from './track-recognizer.js';
import { iou, matchScore, moveTrack, type TrackMotion } from './track-motion.js';

export interface TrackerOptions {
  /** Camera name; prefixes track ids. */
  readonly camera: string;
  /** Number of the first track id (`<camera>-<firstId>`); the daemon continues after its last run's. Default 1. */
  readonly firstId?: number;
  /** Labels of the classifier, in its output order (two: [negative, positive]). */
  readonly labels: readonly string[];
  /**
   * Three or more labels: the model's unsure floor (manifest `unsure_floor`): a track whose largest
   * probability is below it + `unsureMargin` is `unknown`. Ignored for two labels. Default 0.
   */
  readonly unsureFloor?: number;
  /** Model id put into snapshots. */
  readonly model: string;
  /** Minimum IoU to continue a track. Defaults of every option: TRACKER_DEFAULTS. */
  readonly iouThreshold?: number;
  /** Frames a track may be missing before it ends. Default 10. */
  readonly maxMissedFrames?: number;
  /** Frames before a track is reported (filters one-frame false detections). Default 3. */
  readonly minFrames?: number;
  /** Minimum time between two `update` events of one track, ms. Default 1000. */
  readonly updateIntervalMs?: number;
  /** Change of score that is worth an `update`. Default 0.05. */
  readonly scoreDelta?: number;
  /**
   * Margin the other class needs before a class change is published: the track's confidence in the
   * new class must reach 0.5 + hysteresis. Default 0.1.
   */
  readonly hysteresis?: number;
  /**
   * A track whose confidence is below 0.5 + unsureMargin is reported as class `unknown` (for access
   * control: never act on a face the model cannot tell). Default 0 (off).
   */
  readonly unsureMargin?: number;
  /**
   * A tracked face is classified again at most once per this many ms, after its first `minFrames`
   * frames (which are all classified, so its `new` event is decided as with every-frame classification)
   * and while its class is clear (confidence at least 0.5 + `hysteresis`; unclear faces every frame).
   * Consecutive frames of one face say nearly the same thing; classifying 5 of them a second instead of
   * 15 keeps the decision and saves most of the per-face work (a region decode, align, classify).
   * 0 = every frame. Default 200.
   */
  readonly classifyIntervalMs?: number;
}

/**
 * The tracker's defaults: the one definition, which the config schema's `tracker:` defaults also use
 * (the daemon always passes every value; tests and tools may rely on these).
 */
export const TRACKER_DEFAULTS = {
  iouThreshold: 0.3,
  maxMissedFrames: 10,
  minFrames: 3,
  updateIntervalMs: 1000,
  scoreDelta: 0.05,
  hysteresis: 0.1,
  unsureMargin: 0,
  classifyIntervalMs: 200,
  firstId: 1,
} as const;

/** The class of a track whose confidence lies inside the unsure band. */
export const UNSURE_CLASS = UNSURE_LABEL;

/** What the pipeline saw of one face in one frame. */
export interface FaceObservation {
  readonly box: Box;
  /**
   * Classifier decision log-odds of labels[1] (0 = the model's threshold; see `Classification.logit`);
   * null when the face was not classified in this frame ({@link FaceTracker.classificationDue} said no).
   */
  readonly logit: number | null;
  /**
   * The classification's per-label scores in log space (`Classification.scores`): required for three or
   * more labels; absent for two, where `logit` stands for [0, logit].
   */
  readonly scores?: readonly number[] | null;
}

/** A track seen in the last frame (see {@link FaceTracker.visibleTracks}). */
export interface VisibleTrack extends TrackSnapshot {
  /** True once the track's `new` event has been published. */
  readonly confirmed: boolean;
}

interface Track extends TrackMotion {
  readonly id: string;
  frames: number;
  missed: number;
  /** Observations that carried a classification, and the frame time of the last one. */
  classified: number;
  classifiedAtMs: number;
  /** Size-weighted sums of the per-label scores (two labels: [0, Σ w·logit]). */
  weightedScoreSums: number[];
  weightSum: number;
  /** Best single-frame probability of each label (two labels: calibrated, 0.5 at the threshold). */
  topProbability: number[];
  startTime: number;
  published: TrackSnapshot | null;
  publishedAtMs: number;
  /** Who the track is and whether it is live (recognition on; see {@link FaceTracker.recognizeIdentities}). */
  identity: TrackIdentity;
}

/** A track that a face of the last frame continued or started (see {@link FaceTracker.lastFrameTracks}). */
export interface ObservedTrack {
  readonly id: string;
  /** True once the track's `new` event has been published. */
  readonly confirmed: boolean;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** One frame's probability of each label from its scores: for two labels exactly today's sigmoid of the logit. */
function probabilitiesOf(scores: readonly number[]): number[] {
  if (scores.length !== 2) return softmax(scores);
  const p = sigmoid(scores[1] - scores[0]);
  return [1 - p, p];
}

export class FaceTracker {
  #o: Required<TrackerOptions>;
  #tracks: Track[] = [];
  #nextId = 1;
  /** Snapshots carry `person` and `liveness` (recognition on); off, they are as before issue 23. */
  #recognizing = false;
  /** The track each observation of the last `update` continued or started, in observation order. */
  #lastFrame: Track[] = [];

  constructor(options: TrackerOptions) {
    this.#o = { ...TRACKER_DEFAULTS, ...definedValues(options) } as Required<TrackerOptions>;
    this.#nextId = this.#o.firstId;
  }

  /** Changes thresholds at run time (the `options` bridge command); identity options stay. */
  retune(options: Partial<Omit<TrackerOptions, 'camera' | 'labels' | 'model'>>): void {
    this.#o = { ...this.#o, ...definedValues(options) };
  }

  /**
   * The model id put into snapshots from now on (after `model/reload`), and its unsure floor where it has
   * one (a recalibrated model of the same labels).
   */
  setModel(model: string, unsureFloor?: number): void {
    this.#o = { ...this.#o, model, ...definedValues({ unsureFloor }) };
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
    if (!prev || (sameJson(prev.person, identity.person) && sameJson(prev.liveness, identity.liveness))) return null;
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
      .map((t) => ({ ...this.#snapshot(t, false, 0), confirmed: t.published !== null }));
  }

  /**
   * Feeds one frame's observations. Returns the events this frame causes, oldest track first.
   * @param nowMs monotonic frame time (ms) — drives update throttling.
   * @param wallTimeMs wall-clock frame time (ms since epoch) — goes into payloads.
   */
  update(observations: readonly FaceObservation[], nowMs: number, wallTimeMs: number): TrackEvent[] {
    const events: TrackEvent[] = [];
    const matches = this.#match(
      observations.map((o) => o.box),
      nowMs,
    );
    const matched = new Set<Track>();
    const frameTracks: Track[] = [];
    observations.forEach((o, i) => {
      const t = matches.get(i);
      if (!t) return;
      matched.add(t);
      frameTracks[i] = t;
      this.#observe(t, o, nowMs);
    });
    for (const t of this.#tracks) if (!matched.has(t)) t.missed++;
    observations.forEach((o, i) => {
      if (matches.has(i)) return;
      const t: Track = {
        id: `${this.#o.camera}-${this.#nextId++}`,
        box: o.box,
        seenAtMs: nowMs,
        vx: 0,
        vy: 0,
        frames: 0,
        missed: 0,
        classified: 0,
        classifiedAtMs: -Infinity,
        weightedScoreSums: this.#o.labels.map(() => 0),
        weightSum: 0,
        topProbability: this.#o.labels.map(() => 0),
        startTime: wallTimeMs / 1000,
        published: null,
        publishedAtMs: 0,
        identity: UNDECIDED_IDENTITY,
      };
      this.#observe(t, o, nowMs);
      this.#tracks.push(t);
      frameTracks[i] = t;
    });
    this.#lastFrame = frameTracks;
    const survivors: Track[] = [];
    for (const t of this.#tracks) {
      if (t.missed > this.#o.maxMissedFrames) {
        if (t.published) events.push(this.#emit(t, 'end', nowMs, wallTimeMs));
        continue;
      }
      survivors.push(t);
      if (t.missed > 0) continue;
      if (!t.published) {
        if (t.frames >= this.#o.minFrames && t.classified > 0) events.push(this.#emit(t, 'new', nowMs, wallTimeMs));
      } else if (this.#worthUpdate(t, t.published, nowMs)) {
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
    const matches = this.#match(boxes, nowMs);
    return boxes.map((_, i) => {
      const t = matches.get(i);
      if (!t || t.classified < this.#o.minFrames || nowMs - t.classifiedAtMs >= this.#o.classifyIntervalMs) return true;
      return this.#decision(t).confidence < this.#clearFrom();
    });
  }

  /**
   * Which track each box continues (box index → track): greedy by best affinity first, good enough for the handful of
   * faces a camera sees.
   */
  #match(boxes: readonly Box[], nowMs: number): Map<number, Track> {
    const pairs: { t: Track; i: number; score: number }[] = [];
    for (const t of this.#tracks) {
      boxes.forEach((box, i) => {
        const score = matchScore(t, box, nowMs, this.#o.iouThreshold);
        if (score !== null) pairs.push({ t, i, score });
      });
    }
    pairs.sort((a, b) => b.score - a.score);
    const matches = new Map<number, Track>();
    const taken = new Set<Track>();
    for (const { t, i } of pairs) {
      if (taken.has(t) || matches.has(i)) continue;
      taken.add(t);
      matches.set(i, t);
    }
    return matches;
  }

  #observe(t: Track, o: FaceObservation, nowMs: number): void {
    moveTrack(t, o.box, nowMs, t.frames === 0);
    t.frames++;
    t.missed = 0;
    const scores = o.scores ?? (o.logit === null ? null : [0, o.logit]);
    if (scores === null) return;
    if (scores.length !== this.#o.labels.length) {
      throw new FaceedgeError(
        'MODEL_SHAPE_MISMATCH',
        `${scores.length} class scores for a tracker of ${this.#o.labels.length} labels`,
      );
    }
    t.classified++;
    t.classifiedAtMs = nowMs;
    // Bigger faces carry more pixels and deserve more say; sqrt keeps one close-up from dominating.
    const weight = Math.sqrt(o.box.width * o.box.height);
    scores.forEach((s, i) => (t.weightedScoreSums[i] += weight * s));
    t.weightSum += weight;
    probabilitiesOf(scores).forEach((p, i) => (t.topProbability[i] = Math.max(t.topProbability[i], p)));
  }

  /**
   * Confidence from which a track's class counts as clear (hysteresis for a class change, and the
   * classification cadence): 0.5 + `hysteresis` for two labels; for more, the larger of the model's
   * unsure floor and 1 / N (a uniform guess), + `hysteresis`.
   */
  #clearFrom(): number {
    const n = this.#o.labels.length;
    const base = n === 2 ? 0.5 : Math.max(this.#o.unsureFloor ?? 0, 1 / n);
    return base + this.#o.hysteresis;
  }

  /**
   * The track's class now, from the softmax of its size-weighted mean scores. Two labels: the side of
   * the threshold its averaged decision logit is on, with the confidence of that side (never below 0.5),
   * or `unknown` inside the unsure band. More: the most probable label, `unknown` below the unsure floor
   * + margin.
   */
  #decision(t: Track): { label: string; side: number; confidence: number } {
    const n = this.#o.labels.length;
    if (n === 2) {
      // A track not yet classified (only possible for a caller that skipped classificationDue) is undecided.
      const meanLogit = t.weightedScoreSums[1] / t.weightSum - t.weightedScoreSums[0] / t.weightSum;
      const p = t.weightSum > 0 ? sigmoid(meanLogit) : 0.5;
      const side = p >= 0.5 ? 1 : 0;
      const confidence = side === 1 ? p : 1 - p;
      const unsure = confidence < 0.5 + this.#o.unsureMargin;
      return { label: unsure ? UNSURE_CLASS : this.#o.labels[side], side, confidence };
    }
    const probabilities =
      t.weightSum > 0 ? softmax(t.weightedScoreSums.map((s) => s / t.weightSum)) : this.#o.labels.map(() => 1 / n);
    const side = argmax(probabilities);
    const confidence = probabilities[side];
    const unsure = confidence < (this.#o.unsureFloor ?? 0) + this.#o.unsureMargin;
    return { label: unsure ? UNSURE_CLASS : this.#o.labels[side], side, confidence };
  }

  #snapshot(t: Track, ended: boolean, wallTimeMs: number): TrackSnapshot {
    const { label, side, confidence } = this.#decision(t);
    const round = (v: number) => Math.round(v * 10) / 10;
    return {
      id: t.id,
      camera: this.#o.camera,
      box: { x: round(t.box.x), y: round(t.box.y), width: round(t.box.width), height: round(t.box.height) },
      face_area: Math.round(t.box.width * t.box.height),
      class: label,
      score: Math.round(confidence * 1000) / 1000,
      top_score: Math.round(t.topProbability[side] * 1000) / 1000,
      frames: t.frames,
      start_time: t.startTime,
      end_time: ended ? wallTimeMs / 1000 : null,
      model: this.#o.model,
      ...(this.#recognizing ? { person: t.identity.person, liveness: t.identity.liveness } : {}),
    };
  }

  /** Whether the published track `t`, last published as `prev`, has changed enough for an `update`. */
  #worthUpdate(t: Track, prev: TrackSnapshot, nowMs: number): boolean {
    if (nowMs - t.publishedAtMs < this.#o.updateIntervalMs) return false;
    const next = this.#snapshot(t, false, 0);
    if (next.class !== prev.class) {
      // Hysteresis: a change to another real class waits until it is clear, and nothing else about the
      // track is published meanwhile (that update would carry the not-yet-clear class).
      return next.class === UNSURE_CLASS || next.score >= this.#clearFrom();
    }
    return Math.abs(next.score - prev.score) >= this.#o.scoreDelta || iou(prev.box, next.box) < 0.7;
  }

  #emit(t: Track, type: TrackEvent['type'], nowMs: number, wallTimeMs: number): TrackEvent {
    const after = this.#snapshot(t, type === 'end', wallTimeMs);
    const event: TrackEvent = { type, before: t.published, after, frame_timestamp_ms: nowMs };
    t.published = after;
    t.publishedAtMs = nowMs;
    return event;
  }
}

/** Whether two small JSON-shaped values (a person match, a liveness verdict) are equal. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
