/**
 * Stand-ins for the pipeline's unit tests (test/unit/pipeline-*.test.ts): fakes of our own `Detector` and
 * `Classifier` interfaces around the real `Pipeline`, `FaceTracker` and `LatestFrameSlot`, a small grey
 * frame and the face a fake detector reports in it.
 */
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker, type TrackerOptions } from '../../src/pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector, type PipelineOptions } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import type { DetectedFace } from '../../src/vision/face.js';

/** Side of {@link greyFrame}, px. */
export const FRAME_SIDE = 96;

/** A 48 px face in the middle of a {@link FRAME_SIDE}² frame, keypoints included, as a detector reports it. */
export const CENTRED_FACE: DetectedFace = {
  box: { x: 24, y: 24, width: 48, height: 48 },
  keypoints: {
    rightEye: { x: 40, y: 40 },
    leftEye: { x: 56, y: 40 },
    noseTip: { x: 48, y: 50 },
    mouth: { x: 48, y: 60 },
    rightEar: { x: 28, y: 44 },
    leftEar: { x: 68, y: 44 },
  },
  score: 0.9,
};

/** A uniform grey {@link FRAME_SIDE}² RGB frame (`data`: other pixels of that size). */
export function greyFrame(
  seq: number,
  timestampMs: number,
  wallTimeMs: number,
  data = Buffer.alloc(FRAME_SIDE * FRAME_SIDE * 3, 128),
): Frame {
  return { seq, timestampMs, wallTimeMs, image: { kind: 'rgb', data, width: FRAME_SIDE, height: FRAME_SIDE } };
}

/** A classifier that says `logit` of every 64 px crop. */
export function fixedClassifier(logit: number): Classifier {
  return { alignment: { size: 64 }, classify: () => Promise.resolve({ logit }) };
}

export interface StandInPipelineOptions extends Partial<Omit<PipelineOptions, 'tracker' | 'classifier' | 'sink'>> {
  readonly detector: Detector;
  /** Default: {@link fixedClassifier} of logit 2. */
  readonly classifier?: Classifier;
  /** The tracker, or options over the default one (`camera`'s, labels female/male, model `m`). */
  readonly tracker?: FaceTracker | Partial<TrackerOptions>;
}

/**
 * A pipeline on camera `camera` (default `door`) with a fresh slot, a silent log and a sink that collects
 * its events (face presence is dropped); every other option as given.
 */
export function standInPipeline(o: StandInPipelineOptions): {
  pipeline: Pipeline;
  slot: LatestFrameSlot;
  events: TrackEvent[];
} {
  const { detector, classifier = fixedClassifier(2), tracker, camera = 'door', slot = new LatestFrameSlot() } = o;
  const events: TrackEvent[] = [];
  const pipeline = new Pipeline({
    log: silentLogger(),
    ...o,
    camera,
    slot,
    detector,
    classifier: () => classifier,
    tracker:
      tracker instanceof FaceTracker
        ? tracker
        : new FaceTracker({ camera, labels: ['female', 'male'], model: 'm', ...tracker }),
    sink: { events: (_camera, e) => void events.push(...e), facePresence: () => undefined },
  });
  return { pipeline, slot, events };
}
