/**
 * One tracked face as the tracker keeps it between frames (src/pipeline/face-tracker.ts): where it is and how
 * it moves, how many frames it was seen and missed, one class vote per model, what was last published of it
 * and who it is. Here: what a frame's observation does to a track, and which track each box of a frame
 * continues.
 */
import { FaceedgeError } from '../errors.js';
import { LabelVote } from '../classification/label-vote.js';
import type { Box, TrackSnapshot } from './track-event.js';
import type { VotedModel } from './tracked-models.js';
import { UNDECIDED_IDENTITY, type TrackIdentity } from './track-recognizer.js';
import { matchScore, moveTrack, type TrackMotion } from './track-motion.js';

/** What the pipeline saw of one face in one frame. */
export interface FaceObservation {
  readonly box: Box;
  /**
   * Classifier decision log-odds of labels[1] (0 = the model's threshold; see `Classification.logit`);
   * null when the face was not classified in this frame (`FaceTracker.classificationDue` said no).
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

/** A face the tracker follows, from its first frame until it has been missing for too long. */
export interface TrackedFace extends TrackMotion {
  readonly id: string;
  frames: number;
  missed: number;
  /** One vote per model: the first model's, then `moreModels`'. */
  readonly votes: LabelVote[];
  /** Wall-clock time of its first frame, s since epoch. */
  startTime: number;
  published: TrackSnapshot | null;
  publishedAtMs: number;
  /** Who the track is and whether it is live (recognition on; see `FaceTracker.recognizeIdentities`). */
  identity: TrackIdentity;
}

/** A new track `id` at `box`, seen at `nowMs`, with an empty vote per model; not observed yet. */
export function startTrack(
  id: string,
  box: Box,
  models: readonly VotedModel[],
  nowMs: number,
  wallTimeMs: number,
): TrackedFace {
  return {
    id,
    box,
    seenAtMs: nowMs,
    vx: 0,
    vy: 0,
    frames: 0,
    missed: 0,
    votes: models.map((m) => new LabelVote(m.rules.labels.length)),
    startTime: wallTimeMs / 1000,
    published: null,
    publishedAtMs: 0,
    identity: UNDECIDED_IDENTITY,
  };
}

/**
 * Track `t` was seen as `o` at `nowMs`: it moves there, and every model that classified the face this frame
 * votes. Throws MODEL_SHAPE_MISMATCH when a model's scores do not match its labels.
 */
export function observeTrack(t: TrackedFace, o: FaceObservation, models: readonly VotedModel[], nowMs: number): void {
  moveTrack(t, o.box, nowMs, t.frames === 0);
  t.frames++;
  t.missed = 0;
  const first = o.scores ?? (o.logit === null ? null : [0, o.logit]);
  // Bigger faces carry more pixels and deserve more say; sqrt keeps one close-up from dominating.
  const weight = Math.sqrt(o.box.width * o.box.height);
  models.forEach((m, k) => {
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

/**
 * Which track each box continues (box index → track): greedy by best affinity first, good enough for the
 * handful of faces a camera sees.
 */
export function matchTracks(
  tracks: readonly TrackedFace[],
  boxes: readonly Box[],
  nowMs: number,
  iouThreshold: number,
): Map<number, TrackedFace> {
  const pairs: { t: TrackedFace; i: number; score: number }[] = [];
  for (const t of tracks) {
    boxes.forEach((box, i) => {
      const score = matchScore(t, box, nowMs, iouThreshold);
      if (score !== null) pairs.push({ t, i, score });
    });
  }
  pairs.sort((a, b) => b.score - a.score);
  const matches = new Map<number, TrackedFace>();
  const taken = new Set<TrackedFace>();
  for (const { t, i } of pairs) {
    if (taken.has(t) || matches.has(i)) continue;
    taken.add(t);
    matches.set(i, t);
  }
  return matches;
}
