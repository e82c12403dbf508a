/**
 * The pipeline's recognition hook (src/pipeline/track-recognizer.ts) with a stand-in recognizer: only faces
 * of confirmed tracks are handed over, with their track id and the frame's pixels (the aligned crop at the
 * geometry asked for); an identity it returns goes out at once as an `update`; a track's end makes the
 * recognizer forget it. Fakes of our own Detector/Classifier interfaces; the real tracker and slot.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { silentLogger } from '../../src/observability/logger.js';
import { FaceTracker } from '../../src/pipeline/face-tracker.js';
import { Pipeline, type Classifier, type Detector } from '../../src/pipeline/pipeline.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import type { RecognitionFace, TrackIdentity, TrackRecognizer } from '../../src/pipeline/track-recognizer.js';
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
const ALICE: TrackIdentity = { person: { name: 'alice', similarity: 0.97 }, liveness: { outcome: 'live', score: 0.9 } };

let seq = 0;
const frame = (): Frame => ({
  seq: seq++,
  timestampMs: seq * 66,
  wallTimeMs: 1_000_000 + seq * 66,
  image: { kind: 'rgb', data: Buffer.alloc(W * W * 3, 128), width: W, height: W },
});

class StandInRecognizer implements TrackRecognizer {
  seen: { camera: string; faces: RecognitionFace[]; cropBytes: number }[] = [];
  forgotten: string[] = [];
  async observe(
    camera: string,
    faces: readonly RecognitionFace[],
    _t: number,
    pixels: Parameters<TrackRecognizer['observe']>[3],
  ) {
    const crop = await pixels.alignedCrop(faces[0].face, {
      size: 32,
      sideInEyeDistances: 3,
      centreBelowEyes: 0.3,
      padding: 'mirror',
    });
    this.seen.push({ camera, faces: [...faces], cropBytes: crop.length });
    // Decides at the second frame it is shown.
    return new Map(this.seen.length === 2 ? [[faces[0].trackId, ALICE]] : []);
  }
  forget(_camera: string, trackId: string): void {
    this.forgotten.push(trackId);
  }
}

async function run(recognizer: TrackRecognizer | undefined, frames: number) {
  const events: TrackEvent[] = [];
  const slot = new LatestFrameSlot();
  // The face is in the first `frames` frames, then gone: its track ends two frames later.
  let detections = 0;
  const detector: Detector = { detect: () => Promise.resolve(detections++ < frames ? [FACE] : []) };
  const classifier: Classifier = { alignment: { size: 64 }, classify: () => Promise.resolve({ logit: 2 }) };
  const tracker = new FaceTracker({
    camera: 'porch',
    labels: ['female', 'male'],
    model: 'm',
    minFrames: 3,
    maxMissedFrames: 1,
    updateIntervalMs: 60_000,
  });
  const pipeline = new Pipeline({
    camera: 'porch',
    slot,
    detector,
    classifier: () => classifier,
    log: silentLogger(),
    tracker,
    recognizer,
    sink: { events: (_c, e) => void events.push(...e), facePresence: () => undefined },
  });
  for (let i = 0; i < frames + 2; i++) await pipeline.processFrame(frame());
  return events;
}

describe('Pipeline with a recognizer', () => {
  it('hands over confirmed tracks only, publishes the identity at once, and makes the recognizer forget ended tracks', async () => {
    const recognizer = new StandInRecognizer();
    const events = await run(recognizer, 6);
    // Frames 1–2 are the unconfirmed track's; frame 3 confirms it (its `new`) and is the first handed over.
    expect(recognizer.seen).toHaveLength(4);
    expect(recognizer.seen[0]).toEqual({
      camera: 'porch',
      faces: [{ trackId: 'porch-1', face: FACE }],
      cropBytes: 32 * 32 * 3,
    });
    expect(events.map((e) => e.type)).toEqual(['new', 'update', 'end']);
    expect(events[0].after).toMatchObject({
      person: { name: null, similarity: null },
      liveness: { outcome: 'unknown' },
    });
    expect(events[1].after).toMatchObject(ALICE);
    expect(events[2].after).toMatchObject(ALICE);
    expect(recognizer.forgotten).toEqual(['porch-1']);
  });

  it('without a recognizer, events are as before: no person, no liveness', async () => {
    const events = await run(undefined, 6);
    expect(events.map((e) => e.type)).toEqual(['new', 'end']);
    for (const e of events) expect(Object.keys(e.after)).not.toContain('person');
  });
});
