/**
 * What the tracker publishes of a track (src/pipeline/face-tracker.ts): the snapshot of its events and the
 * live view's tracks, and whether a published track has changed enough for another `update` (class, score,
 * box; a person or liveness change always is, at once).
 */
import { UNSURE_LABEL } from '../classification/classification.js';
import { clearConfidence } from '../classification/label-vote.js';
import type { TrackSnapshot } from './track-event.js';
import type { TrackedFace } from './tracked-face.js';
import type { VotedModel } from './tracked-models.js';
import { iou } from './track-motion.js';
import type { TrackIdentity } from './track-recognizer.js';

/** The class of a track whose confidence lies inside the unsure band. */
export const UNSURE_CLASS = UNSURE_LABEL;

/** What a snapshot is built from besides the track: the tracker's camera, model and options as they stand now. */
export interface SnapshotContext {
  readonly camera: string;
  /** Model id put into snapshots. */
  readonly model: string;
  /** The first model's attribute name: absent, snapshots carry no `attributes`. */
  readonly attributeName: string | undefined;
  /** Every voted model, the first one first. */
  readonly models: readonly VotedModel[];
  /** Snapshots carry `person` and `liveness` (recognition on); off, they are as before issue 23. */
  readonly recognizing: boolean;
}

/** The snapshot of track `t` now; `ended` sets `end_time` to `wallTimeMs` (ms since epoch). */
export function trackSnapshot(t: TrackedFace, ctx: SnapshotContext, ended: boolean, wallTimeMs: number): TrackSnapshot {
  const { models } = ctx;
  const decisions = models.map((m, k) => t.votes[k].decision(m.rules));
  const { label, side, confidence } = decisions[0];
  const round = (v: number) => Math.round(v * 10) / 10;
  const score = (c: number) => Math.round(c * 1000) / 1000;
  const attributes =
    ctx.attributeName === undefined
      ? undefined
      : Object.fromEntries(
          models.map((m, k) => {
            const { label: attributeLabel, confidence: c, source } = decisions[k];
            return [m.name, { label: attributeLabel, score: score(c), ...(source && { source }) }];
          }),
        );
  return {
    id: t.id,
    camera: ctx.camera,
    box: { x: round(t.box.x), y: round(t.box.y), width: round(t.box.width), height: round(t.box.height) },
    face_area: Math.round(t.box.width * t.box.height),
    class: label,
    score: score(confidence),
    top_score: score(t.votes[0].topProbability(side)),
    frames: t.frames,
    start_time: t.startTime,
    end_time: ended ? wallTimeMs / 1000 : null,
    model: ctx.model,
    ...(attributes && { attributes }),
    ...(ctx.recognizing ? { person: t.identity.person, liveness: t.identity.liveness } : {}),
  };
}

/** How much a published track must change before its next `update` (the tracker's options of those names). */
export interface UpdateRules {
  /** Minimum time between two `update` events of one track, ms. */
  readonly updateIntervalMs: number;
  /** Change of score that is worth an `update`. */
  readonly scoreDelta: number;
}

/** Whether the published track `t`, last published as `prev`, has changed enough for an `update`. */
export function worthUpdate(
  t: TrackedFace,
  prev: TrackSnapshot,
  ctx: SnapshotContext,
  rules: UpdateRules,
  nowMs: number,
): boolean {
  if (nowMs - t.publishedAtMs < rules.updateIntervalMs) return false;
  const next = trackSnapshot(t, ctx, false, 0);
  const { models } = ctx;
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
    changed ||= b.label !== a.label || Math.abs(b.score - a.score) >= rules.scoreDelta;
  }
  return changed || iou(prev.box, next.box) < 0.7;
}

/** Whether `identity` differs from the person and liveness last published in `published`. */
export function identityChanged(published: TrackSnapshot, identity: TrackIdentity): boolean {
  return !sameJson(published.person, identity.person) || !sameJson(published.liveness, identity.liveness);
}

/** Whether two small JSON-shaped values (a person match, a liveness verdict) are equal. */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
