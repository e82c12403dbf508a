/** Event payloads of the MQTT contract (`faceedge/<dev>/<cam>/events`); see DESIGN.md. */

import type { DecisionSource } from '../classification/paired-decision.js';
import type { Box } from '../vision/face.js';

export type { Box };

/** The state of one tracked face at a moment. */
export interface TrackSnapshot {
  /**
   * Stable id for the life of the track, `<camera>-<n>`, unique across daemon runs on one state_dir (e.g. `door-17`).
   */
  readonly id: string;
  readonly camera: string;
  readonly box: Box;
  /** Box area in source pixels². */
  readonly face_area: number;
  /**
   * The decided class (`female` / `male`): the side of the model's decision threshold that the track's
   * size-weighted mean logit is on; `unknown` inside the unsure band (`tracker.unsure_margin`).
   */
  readonly class: string;
  /**
   * Confidence of that side in [0.5, 1] over the track so far, calibrated so that the model's
   * threshold is 0.5 (for `unknown`: of the more likely side, below 0.5 + the margin).
   */
  readonly score: number;
  /** Highest single-frame confidence of that side seen on this track. */
  readonly top_score: number;
  /** Frames in which this face was seen. */
  readonly frames: number;
  /** Wall-clock seconds since the Unix epoch. */
  readonly start_time: number;
  /** null while the track is alive. */
  readonly end_time: number | null;
  /** Model id (manifest id) that classified this track. */
  readonly model: string;
  /**
   * What every configured model (`classifiers:`, issue 24 §3) says of the face, by model name; the first
   * model's entry repeats `class` and `score`. Present on every event of a daemon.
   */
  readonly attributes?: Readonly<Record<string, AttributeValue>>;
  /**
   * Who the face is (issue 23 §3), when recognition is on: absent while the board does not recognize
   * people, `null` name while the track is not (yet) matched to an enrolled person.
   */
  readonly person?: PersonMatch;
  /** Whether the face is live (issue 23 §4), when recognition is on; absent otherwise. */
  readonly liveness?: LivenessVerdict;
}

/** One model's decision on a track: as `class` and `score` are for the first model. */
export interface AttributeValue {
  /** The decided label, or `unknown` inside the unsure band. */
  readonly label: string;
  /** Confidence of that label over the track so far, in [0, 1] (two labels: in [0.5, 1]). */
  readonly score: number;
  /**
   * A model shipped with a head on the face embedding (models/age/): `image+embedding` when both decided
   * (recognition on, the track embedded), `image` when the image model alone did. Absent for other models.
   */
  readonly source?: DecisionSource;
}

/**
 * The identity of a person's name: two names with the same key are the same person ("Alice" and "alice").
 * The gallery keys its people by it and the locks compare names with it; it lives beside {@link PersonMatch}
 * so that both sides import the one definition.
 */
export function personKey(name: string): string {
  return name.normalize('NFC').toLocaleLowerCase('und');
}

/** A track's match against the gallery: never an embedding, only the decision and its similarity. */
export interface PersonMatch {
  /** The enrolled person's name, or null for `unknown` (below the threshold, without the margin, or not yet embedded). */
  readonly name: string | null;
  /**
   * Cosine similarity to the best enrolled person (the named one); null before any embedding or with an empty
   * gallery. Leaves the board only with a name ({@link disclosedSimilarity}).
   */
  readonly similarity: number | null;
}

/**
 * The similarity that may leave the board with a match (events, `<cam>/person`, `<dev>/access`): the named
 * person's, never that of a face that matched nobody. Whoever reads MQTT could otherwise adjust a presentation
 * (a print, a mask, make-up, a morph) try by try towards the threshold, reading how close each came. Inside the
 * board the similarity stays (a decided `unknown` is told from an undecided track by it), and the board's own
 * access log (0600) keeps it. The one rule for every payload that leaves the board.
 */
export function disclosedSimilarity(name: string | null, similarity: number | null): number | null {
  return name === null ? null : similarity;
}

/**
 * The liveness score that may leave the board: a `live` face's only. The P(live) of a refused or undecided face
 * would tell whoever reads MQTT how close a print or a screen came to passing, try by try, as the similarity
 * would ({@link disclosedSimilarity}); the board's own access log keeps it.
 */
export function disclosedLivenessScore(
  outcome: LivenessVerdict['outcome'] | null,
  score: number | null,
): number | null {
  return outcome === 'live' ? score : null;
}

/** `snapshot` as it may leave the board: what a failed match or check scored withheld (see above). */
export function disclosedSnapshot(snapshot: TrackSnapshot): TrackSnapshot {
  const { person, liveness } = snapshot;
  const hideSimilarity =
    person !== undefined && disclosedSimilarity(person.name, person.similarity) !== person.similarity;
  const hideLiveness =
    liveness !== undefined && disclosedLivenessScore(liveness.outcome, liveness.score) !== liveness.score;
  if (!hideSimilarity && !hideLiveness) return snapshot;
  return {
    ...snapshot,
    ...(person && hideSimilarity ? { person: { name: person.name, similarity: null } } : {}),
    ...(liveness && hideLiveness ? { liveness: { outcome: liveness.outcome, score: null } } : {}),
  };
}

/**
 * A track's presentation-attack verdict (src/liveness/liveness-decision.ts). Anything but `live` must be a
 * refusal for a lock.
 */
export interface LivenessVerdict {
  readonly outcome: 'live' | 'attack' | 'unknown';
  /** Median P(live) of the passive network over the scored frames; null before any was scored. */
  readonly score: number | null;
}

export interface TrackEvent {
  readonly type: 'new' | 'update' | 'end';
  /** Previous published snapshot (null for `new`). */
  readonly before: TrackSnapshot | null;
  readonly after: TrackSnapshot;
  /**
   * Only on an `end` the tracker did not see happen: `restart` = the track was open when the previous
   * run of the daemon died, and is ended by the next run (`after` is its last published snapshot, with
   * `end_time` when that was published). Absent on every other event.
   */
  readonly reason?: 'restart';
  /** Monotonic timestamp (ms) of the frame that produced this event, for latency measurement. */
  readonly frame_timestamp_ms?: number;
}
