/**
 * The pipeline with a classifier of six labels: its per-label scores reach the tracker, so events name
 * the manifest's bands (or `unknown` below the model's unsure floor). Fakes of our own Detector/Classifier
 * interfaces; the real tracker, slot and classification contract.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { toSoftmaxClassification } from '../../src/classification/classification.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import type { DetectedFace } from '../../src/vision/face.js';

const W = 96;
const BANDS = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];
const FACE: DetectedFace = {
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

let seq = 0;
const frame = (): Frame => ({
  seq: seq++,
  timestampMs: performance.now(),
  wallTimeMs: Date.now(),
  image: { kind: 'rgb', data: Buffer.alloc(W * W * 3, 128), width: W, height: W },
});

async function firstEvent(logits: number[], unsureFloor: number): Promise<TrackEvent> {
  const events: TrackEvent[] = [];
  const slot = new LatestFrameSlot();
  const detector: Detector = { detect: async () => [FACE] };
  const classifier: Classifier = {
    alignment: { size: 64 },
    classify: async () => toSoftmaxClassification(BANDS, logits, { unsureFloor }),
  };
  const pipeline = new Pipeline({
    camera: 'door',
    slot,
    detector,
    classifier: () => classifier,
    log: silentLogger(),
    tracker: new FaceTracker({ camera: 'door', labels: BANDS, model: 'age', minFrames: 1, unsureFloor }),
    sink: { events: (_c, e) => void events.push(...e), facePresence: () => undefined },
  });
  const done = pipeline.start();
  slot.put(frame());
  const end = Date.now() + 5000;
  while (events.length === 0) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
  await pipeline.stop();
  await done;
  return events[0];
}

describe('a six-label classifier in the pipeline', () => {
  it('publishes the band with its probability', async () => {
    const logits = [0, 0, 1, 4, 1, 0];
    const event = await firstEvent(logits, 0.5);
    expect(event.after.class).toBe('30-44');
    expect(event.after.score).toBeCloseTo(toSoftmaxClassification(BANDS, logits).confidence, 3);
    expect(event.after.model).toBe('age');
  });

  it('publishes unknown below the unsure floor', async () => {
    const event = await firstEvent([0, 0, 1, 1.1, 1, 0], 0.5);
    expect(event.after.class).toBe('unknown');
    expect(event.after.score).toBeLessThan(0.5);
  });
});
