/**
 * The liveness check of one track, as the recognizer asks for it (src/recognition/track-recognizer.ts
 * `TrackLivenessCheck`, matched structurally: recognition and liveness are modules of one layer and the
 * daemon joins them): the anti-spoofing network's crop of a candidate frame, its P(live), and the track's
 * verdict from those scores and its keypoints' planar-motion evidence (`decideLiveness`).
 */
import type { LivenessVerdict } from '../pipeline/track-event.js';
import type { FramePixels } from '../pipeline/track-recognizer.js';
import type { DetectedFace } from '../vision/face.js';
import { antiSpoofCrop } from './anti-spoof-crop.js';
import type { AntiSpoofNetwork } from './anti-spoof-network.js';
import { DEFAULT_LIVENESS_FRAMES, decideLiveness, type LivenessPolicy } from './liveness-decision.js';
import { planarMotionEvidence, type KeypointSample, type PlanarMotionOptions } from './planar-motion.js';

export interface TrackLivenessOptions {
  readonly network: Pick<AntiSpoofNetwork, 'crop' | 'threshold' | 'scoreCrop'>;
  /** Default: the network's threshold, {@link DEFAULT_LIVENESS_FRAMES} frames, no temporal requirement. */
  readonly policy?: Partial<LivenessPolicy>;
  readonly planarMotion?: PlanarMotionOptions;
}

export class TrackLivenessCheck {
  readonly minFrames: number;
  readonly #o: TrackLivenessOptions;
  readonly #policy: LivenessPolicy;

  constructor(options: TrackLivenessOptions) {
    this.#o = options;
    this.#policy = {
      threshold: options.network.threshold,
      minPassiveFrames: DEFAULT_LIVENESS_FRAMES,
      ...options.policy,
    };
    this.minFrames = this.#policy.minPassiveFrames ?? DEFAULT_LIVENESS_FRAMES;
  }

  /** The network's crop of `face` (size² × 3 RGB bytes): the detector box scaled, clamped to the frame. */
  async capture(face: DetectedFace, pixels: FramePixels): Promise<Uint8Array> {
    return antiSpoofCrop(await pixels.image(), face.box, this.#o.network.crop);
  }

  /** P(live) of a captured crop. */
  async score(crop: Uint8Array): Promise<number> {
    return (await this.#o.network.scoreCrop(crop)).live;
  }

  /** The verdict of the contract (`outcome`, median P(live) rounded to 3 digits). */
  decide(scores: readonly number[], samples: readonly KeypointSample[]): LivenessVerdict {
    const decision = decideLiveness(scores, planarMotionEvidence(samples, this.#o.planarMotion), this.#policy);
    const score = decision.passiveMedian === null ? null : Math.round(decision.passiveMedian * 1000) / 1000;
    return { outcome: decision.outcome, score };
  }
}
