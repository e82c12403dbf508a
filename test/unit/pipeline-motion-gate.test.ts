/**
 * A motion-gated pipeline (live cameras): on a still scene without tracks the detector runs only at the
 * keep-alive rate and most frames are not decoded, yet a broken frame is still reported; once a face is
 * found, the detector runs on every frame until it is confirmed, then every tracked_interval_ms. Fakes of our own Detector/Classifier; real sharp and tracker.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { isFaceedgeError } from '../../src/errors.js';
import { DEFAULT_MOTION_GATE } from '../../src/pipeline/motion-gate.js';
import type { Detector } from '../../src/pipeline/pipeline.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { fixedClassifier, standInPipeline } from '../helpers/pipeline-stand-ins.js';

const FRAME_MS = 1000 / 15;
const still = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#7a6f60' } })
  .jpeg()
  .toBuffer();
/** The same room with someone in it (a face-sized patch where the fake detector reports the face). */
const occupied = await sharp(still)
  .composite([
    { input: { create: { width: 100, height: 100, channels: 3, background: '#c89070' } }, left: 600, top: 300 },
  ])
  .jpeg()
  .toBuffer();
const FACE: DetectedFace = {
  box: { x: 600, y: 300, width: 100, height: 100 },
  keypoints: {
    rightEye: { x: 630, y: 330 },
    leftEye: { x: 670, y: 330 },
    noseTip: { x: 650, y: 350 },
    mouth: { x: 650, y: 375 },
    rightEar: { x: 605, y: 340 },
    leftEar: { x: 695, y: 340 },
  },
  score: 0.9,
};

function setup(faceFrom: number) {
  let detections = 0;
  let seq = 0;
  const detector: Detector = { inputSize: 128, detect: async () => (detections++, seq >= faceFrom ? [FACE] : []) };
  const { pipeline } = standInPipeline({ detector, classifier: fixedClassifier(1), motionGate: DEFAULT_MOTION_GATE });
  const feed = (data = seq >= faceFrom ? occupied : still) => {
    const frame: Frame = {
      seq,
      timestampMs: seq * FRAME_MS,
      wallTimeMs: 1.8e12,
      image: { kind: 'encoded', data, origin: `door#${seq}` },
    };
    seq++;
    return pipeline.processFrame(frame);
  };
  return { feed, detections: () => detections };
}

describe('a motion-gated pipeline', () => {
  it('runs the detector once on an unchanging still scene, and at least 4 times a second once a face is tracked', async () => {
    const { feed, detections } = setup(45);
    for (let i = 0; i < 45; i++) await feed(); // 3 s of a still, empty scene
    // Once: the picture never changes, so the keep-alive has nothing new to look at.
    expect(detections()).toBe(1);
    const before = detections();
    // A face appears (sitting still; too small a change to count as motion): found at the next keep-alive
    // (the picture changed), followed on every frame until its track is confirmed (3 frames), then on
    // every third frame (tracked_interval_ms 200 at 15 fps).
    for (let i = 0; i < 30; i++) await feed();
    expect(detections() - before).toBeGreaterThanOrEqual(8);
    expect(detections() - before).toBeLessThanOrEqual(14);
  });

  it('reports a broken frame even when the gate would not have decoded it', async () => {
    const { feed } = setup(Infinity);
    await feed();
    const broken = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0, 0, 0, 0, 1, 1, 0x11, 0, 0xff, 0xd9]);
    const error = await feed(broken).then(
      () => null,
      (err: unknown) => err,
    );
    expect(isFaceedgeError(error) && error.code).toBe('IMAGE_UNREADABLE');
  });
});
