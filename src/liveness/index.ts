/**
 * Presentation-attack detection (issue 23 §4): what the recognition and lock code imports.
 *
 * - `AntiSpoofNetwork` scores one frame of a face: P(live) from the shipped MiniFASNet (models/liveness/).
 * - `planarMotionEvidence` judges a track's keypoint samples: `live` (a head turned), `planar`, `insufficient`.
 * - `decideLiveness` combines both for one track into `live` / `attack` / `unknown`; anything but `live`
 *   must be a refusal.
 *
 * Measured operating points and what the checks do not stop: models/liveness/README.md.
 */
export { antiSpoofCrop, type AntiSpoofCropGeometry } from './anti-spoof-crop.js';
export { cropGeometryOf, loadAntiSpoofManifest, type AntiSpoofManifest } from './anti-spoof-manifest.js';
export { AntiSpoofNetwork, type AntiSpoofNetworkOptions, type AntiSpoofScore } from './anti-spoof-network.js';
export {
  DEFAULT_LIVENESS_FRAMES,
  decideLiveness,
  type LivenessDecision,
  type LivenessOutcome,
  type LivenessPolicy,
} from './liveness-decision.js';
export {
  PLANAR_MOTION_DEFAULTS,
  planarMotionEvidence,
  type KeypointSample,
  type PlanarMotionOptions,
  type PlanarMotionResult,
  type PlanarMotionVerdict,
} from './planar-motion.js';
export { TrackLivenessCheck, type TrackLivenessOptions } from './track-liveness-check.js';
