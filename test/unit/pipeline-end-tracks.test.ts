/**
 * Pipeline.endTracks (a camera paused by a rule): open tracks end with an `end` event while the loop
 * keeps waiting for frames, frames captured before the call are processed first, and a later frame
 * starts a new track. Fakes of our own Detector/Classifier interfaces; the real tracker and slot.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import type { DetectedFace } from '../../src/vision/face.js';

const W = 96;
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

function setup() {
  const events: TrackEvent[] = [];
  const slot = new LatestFrameSlot();
  let detections = 0;
  const detector: Detector = { detect: async () => (detections++, [FACE]) };
  const classifier: Classifier = { alignment: { size: 64 }, classify: async () => ({ logit: 2 }) };
  const pipeline = new Pipeline({
    camera: 'porch',
    slot,
    detector,
    classifier: () => classifier,
    log: silentLogger(),
    tracker: new FaceTracker({ camera: 'porch', labels: ['female', 'male'], model: 'm', minFrames: 1 }),
    sink: { events: (_c, e) => void events.push(...e), facePresence: () => undefined },
  });
  return { events, slot, pipeline, detections: () => detections };
}

const until = async (check: () => boolean) => {
  const end = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('Pipeline.endTracks', () => {
  it('ends open tracks after the frames already captured, keeps the loop running, and a later frame starts a new track', async () => {
    const { events, slot, pipeline, detections } = setup();
    const done = pipeline.start();
    slot.put(frame());
    await until(() => events.some((e) => e.type === 'new'));
    const first = events[0].after.id;
    // Captured before the pause: processed (one more detection) before the tracks end.
    slot.put(frame());
    await pipeline.endTracks();
    expect(detections()).toBe(2);
    expect(events.at(-1)).toMatchObject({ type: 'end', after: { id: first } });

    slot.put(frame());
    await until(() => events.filter((e) => e.type === 'new').length === 2);
    expect(events.at(-1)!.after.id).not.toBe(first);
    await pipeline.stop();
    await done;
    expect(events.at(-1)).toMatchObject({ type: 'end' });
    expect(events.filter((e) => e.type === 'end')).toHaveLength(2);
  });

  it('resolves at once after the loop has ended', async () => {
    const { slot, pipeline } = setup();
    const done = pipeline.start();
    slot.end();
    await done;
    await expect(pipeline.endTracks()).resolves.toBeUndefined();
  });
});
