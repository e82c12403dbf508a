/**
 * One track's liveness decision from both kinds of evidence: the passive network's P(live) on several of its
 * frames (src/liveness/anti-spoof-network.ts) and the temporal planar-motion check
 * (src/liveness/planar-motion.ts). Pure; the lock rules (issue 23 §5) call it and must treat anything but
 * `live` as a refusal.
 *
 * - `attack`: the network's median P(live) over the scored frames is below its threshold.
 * - `unknown`: not enough evidence (fewer than `minPassiveFrames` scored frames; or, with `requireTemporal`,
 *   no temporal `live` yet). Never a pass; a lock waits for more frames or refuses.
 * - `live`: neither check objects. It says the face is not a flat print or still screen as far as these
 *   checks can tell (models/liveness/README.md says which attacks they do not stop).
 *
 * A temporal `planar` verdict does not refuse by itself: on the measured data it came up for 1 of 40 planar
 * stand-in clips but also for 1 of 2 judged live tracks of small (40 px) faces, so it is too unreliable to
 * call a person an attacker; the lock may log it.
 */
import type { PlanarMotionResult } from './planar-motion.js';

/** Scored frames a track needs before any outcome but `unknown` (at 15 fps, a new track's first 200 ms). */
export const DEFAULT_LIVENESS_FRAMES = 3;

export type LivenessOutcome = 'live' | 'attack' | 'unknown';

export interface LivenessPolicy {
  /** P(live) threshold of the network (its manifest's `threshold`). */
  readonly threshold: number;
  /** Scored frames needed for any outcome but `unknown`. Default {@link DEFAULT_LIVENESS_FRAMES}. */
  readonly minPassiveFrames?: number;
  /**
   * Also require temporal `live` (the head turned or nodded in view). Default false: with the scene clips,
   * most live tracks never turn enough within a door's decision time (models/liveness/README.md).
   */
  readonly requireTemporal?: boolean;
}

export interface LivenessDecision {
  readonly outcome: LivenessOutcome;
  /** Why, in words for the audit log (no biometric data). */
  readonly reason: string;
  /** Median P(live) over the scored frames; null when none was scored. */
  readonly passiveMedian: number | null;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The decision for one track. `passive` holds P(live) of each scored frame (non-finite values are dropped);
 * `temporal` is the track's planar-motion result, or null when the caller has none.
 */
export function decideLiveness(
  passive: readonly number[],
  temporal: PlanarMotionResult | null,
  policy: LivenessPolicy,
): LivenessDecision {
  const minFrames = policy.minPassiveFrames ?? DEFAULT_LIVENESS_FRAMES;
  const scores = passive.filter((p) => Number.isFinite(p));
  const passiveMedian = scores.length > 0 ? median(scores) : null;
  if (passiveMedian === null || scores.length < minFrames) {
    return { outcome: 'unknown', reason: `${scores.length} of ${minFrames} frames scored`, passiveMedian };
  }
  if (passiveMedian < policy.threshold) {
    return {
      outcome: 'attack',
      reason: `median P(live) ${passiveMedian.toFixed(3)} below ${policy.threshold}`,
      passiveMedian,
    };
  }
  if (policy.requireTemporal && temporal?.verdict !== 'live') {
    return { outcome: 'unknown', reason: 'no head motion seen yet (temporal check required)', passiveMedian };
  }
  return { outcome: 'live', reason: 'passive check passed', passiveMedian };
}
