/**
 * IoU/centre tracker with stable ids and a per-track class decision; each track is matched where its last
 * motion puts it at the new frame's time (frames may be 200 ms apart). One event stream per face:
 * `new` once a track is confirmed (enough frames), `update` when its class flips or its score moves,
 * at most every `updateIntervalMs`, and `end` when it has been missing for too long. Never one
 * message per frame.
 */
import { FaceedgeError } from '../errors.js';
import { UNSURE_LABEL } from '../classification/classification.js';
import { clearConfidence, LabelVote } from '../classification/label-vote.js';
import { definedValues } from '../schema/defined-values.js';
import type { TrackingState } from './motion-gate.js';
import type { Box, TrackEvent, TrackSnapshot } from './track-event.js';
import type { PairingRules } from '../classification/paired-decision.js';
import { votedModels, type AttributeModel, type VotedModel } from './tracked-models.js';
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
  /**
   * Name of the model of `labels` as an attribute (issue 24 §3): snapshots then carry `attributes` with
   * every model's decision. Absent: no `attributes` (and no `moreModels`).
   */
  readonly attributeName?: string;
  /** Further models voted on each track beside the first, each on its own cadence. Default none. */
  readonly moreModels?: readonly AttributeModel[];
  /** The first model has a head on the face embedding: how the pair decides (see AttributeModel.pairing). */
  readonly pairing?: PairingRules;
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
  /** Scores of each further model (`moreModels` order); null where that model did not classify this frame. */
  readonly more?: readonly (readonly number[] | null)[];
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
  /** One vote per model: the first model's, then `moreModels`'. */
  readonly votes: LabelVote[];
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
    if (options.moreModels?.length && options.attributeName === undefined)
      throw new FaceedgeError('CONFIG_INVALID', 'a tracker of several models needs the first one named');
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

  /** A further model was reloaded: its unsure floor from now on (same labels). */
  setAttributeModel(name: string, unsureFloor: number): void {
    const more = this.#o.moreModels ?? [];
    this.#o = { ...this.#o, moreModels: more.map((m) => (m.name === name ? { ...m, unsureFloor } : m)) };
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
    if (!prev || (sameJson(prev.person, identity.person) && sameJson(prev.liveness, identity.liveness))) return null;
    return this.#emit(t, 'update', nowMs, wallTimeMs);
  }

  /**
   * The head on the embedding of the model named `name` has a value for track `id` (its log-probabilities,
   * one per label): that model's decision of the track is the pair's from now on (src/classification/
   * paired-decision.ts), published with the track's next event. Ignored for a track that has ended or a
   * model without pairing.
   */
  pairTrack(id: string, name: string, headLogProbabilities: readonly number[]): void {
    const t = this.#tracks.find((track) => track.id === id);
    const k = this.#models().findIndex((m) => m.name === name && m.rules.pairing);
    if (t && k >= 0) t.votes[k].pair(headLogProbabilities);
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
        votes: this.#models().map((m) => new LabelVote(m.rules.labels.length)),
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
        if (t.frames >= this.#o.minFrames && t.votes[0].classified > 0)
          events.push(this.#emit(t, 'new', nowMs, wallTimeMs));
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
    const first = o.scores ?? (o.logit === null ? null : [0, o.logit]);
    // Bigger faces carry more pixels and deserve more say; sqrt keeps one close-up from dominating.
    const weight = Math.sqrt(o.box.width * o.box.height);
    this.#models().forEach((m, k) => {
      const scores = k === 0 ? first : (o.more?.[k - 1] ?? null);
      if (scores === null) return;
      if (scores.length !== m.rules.labels.length) {
        throw new FaceedgeError(
          'MODEL_SHAPE_MISMATCH',
          `${scores.length} class scores for a tracker of ${m.rules.labels.length} labels`,
        );
      }
      t.votes[k].add(scores, weight, nowMs);
    });
  }

  #snapshot(t: Track, ended: boolean, wallTimeMs: number): TrackSnapshot {
    const models = this.#models();
    const decisions = models.map((m, k) => t.votes[k].decision(m.rules));
    const { label, side, confidence } = decisions[0];
    const round = (v: number) => Math.round(v * 10) / 10;
    const score = (c: number) => Math.round(c * 1000) / 1000;
    const attributes =
      this.#o.attributeName === undefined
        ? undefined
        : Object.fromEntries(
            models.map((m, k) => {
              const { label: attributeLabel, confidence: c, source } = decisions[k];
              return [m.name, { label: attributeLabel, score: score(c), ...(source && { source }) }];
            }),
          );
    return {
      id: t.id,
      camera: this.#o.camera,
      box: { x: round(t.box.x), y: round(t.box.y), width: round(t.box.width), height: round(t.box.height) },
      face_area: Math.round(t.box.width * t.box.height),
      class: label,
      score: score(confidence),
      top_score: score(t.votes[0].topProbability(side)),
      frames: t.frames,
      start_time: t.startTime,
      end_time: ended ? wallTimeMs / 1000 : null,
      model: this.#o.model,
      ...(attributes && { attributes }),
      ...(this.#recognizing ? { person: t.identity.person, liveness: t.identity.liveness } : {}),
    };
  }

  /** Whether the published track `t`, last published as `prev`, has changed enough for an `update`. */
  #worthUpdate(t: Track, prev: TrackSnapshot, nowMs: number): boolean {
    if (nowMs - t.publishedAtMs < this.#o.updateIntervalMs) return false;
    const next = this.#snapshot(t, false, 0);
    const models = this.#models();
    // Each model's published decision: the first one's is `class` and `score`.
    const [was, now] = [prev, next].map((s) =>
      models.map((m, k) => (k === 0 ? { label: s.class, score: s.score } : s.attributes?.[m.name ?? ''])),
    );
    let changed = false;
    for (const [k, m] of models.entries()) {
      const [a, b] = [was[k], now[k]];
      if (!a || !b) continue;
      // Hysteresis: a change to another real class waits until it is clear, and nothing else about the
      // track is published meanwhile (that update would carry the not-yet-clear class).
      if (b.label !== a.label && b.label !== UNSURE_CLASS && b.score < clearConfidence(m.rules)) return false;
      changed ||= b.label !== a.label || Math.abs(b.score - a.score) >= this.#o.scoreDelta;
    }
    return changed || iou(prev.box, next.box) < 0.7;
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
