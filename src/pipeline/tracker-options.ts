/**
 * What a face tracker is told (src/pipeline/face-tracker.ts): its camera, its models' labels and cadence, and
 * the thresholds that decide when a track starts, changes class, is published again and ends. The defaults
 * here are the one definition the config schema's `tracker:` section also uses.
 */
import type { AttributeModel } from './tracked-models.js';
import type { PairingRules } from '../classification/paired-decision.js';

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
