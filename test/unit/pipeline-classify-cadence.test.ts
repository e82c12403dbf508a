/**
 * A tracked face is classified on its first frames and then at most every `classifyIntervalMs`, from a
 * full-resolution decode of its region only, and the crops the classifier gets are exactly the crops of
 * the fully decoded frame. Fakes of our own Detector/Classifier; real sharp, decoder and tracker.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import type { Classifier, Detector } from '../../src/pipeline/pipeline.js';
import { alignFace } from '../../src/vision/align-face.js';
import { decodeForDetection, toSourceFaces } from '../../src/vision/decode-for-detection.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { standInPipeline } from '../helpers/pipeline-stand-ins.js';

const FRAME_MS = 1000 / 15;
const noise = Buffer.alloc(1280 * 720 * 3);
for (let i = 0; i < noise.length; i++) noise[i] = (i * 2654435761) >>> 24;
const jpeg = await sharp(noise, { raw: { width: 1280, height: 720, channels: 3 } })
  .jpeg({ quality: 85 })
  .toBuffer();
/** A face as the detector reports it, in the pixels of its (reduced) input. */
const SEEN: DetectedFace = {
  box: { x: 80, y: 40, width: 16, height: 16 },
  keypoints: {
    rightEye: { x: 85, y: 45 },
    leftEye: { x: 91, y: 45 },
    noseTip: { x: 88, y: 48 },
    mouth: { x: 88, y: 52 },
    rightEar: { x: 81, y: 46 },
    leftEar: { x: 95, y: 46 },
  },
  score: 0.9,
};

async function run(frames: number, classifyIntervalMs?: number) {
  const crops: Buffer[] = [];
  const detector: Detector = { inputSize: 192, detect: async () => [SEEN] };
  const classifier: Classifier = {
    alignment: { size: 64, padding: 'mirror' },
    classify: async (crop) => (crops.push(Buffer.from(crop)), { logit: 1 }),
  };
  const { pipeline } = standInPipeline({ detector, classifier, tracker: { classifyIntervalMs } });
  const events = [];
  for (let seq = 0; seq < frames; seq++) {
    const frame: Frame = {
      seq,
      timestampMs: seq * FRAME_MS,
      wallTimeMs: 1.8e12,
      image: { kind: 'encoded', data: jpeg, origin: `door#${seq}` },
    };
    events.push(...(await pipeline.processFrame(frame)));
  }
  return { crops, events };
}

describe('classifying tracked faces', () => {
  it('classifies a face on its first frames, then every 200 ms, with the crops of the full frame', async () => {
    const { crops, events } = await run(45); // 3 s at 15 fps
    // 3 first frames, then one per 200 ms over the remaining ≈ 2.8 s.
    expect(crops.length).toBeGreaterThanOrEqual(15);
    expect(crops.length).toBeLessThanOrEqual(18);
    expect(events.filter((e) => e.type === 'new')).toHaveLength(1);
    const reduced = await decodeForDetection(jpeg, 'x', { inputSize: 192 });
    const [face] = toSourceFaces([SEEN], reduced);
    const expected = alignFace(await decodeImage(jpeg, 'x'), face, { size: 64, padding: 'mirror' });
    for (const crop of crops) expect(crop.equals(expected)).toBe(true);
  });

  it('classifies every frame with classifyIntervalMs 0', async () => {
    expect((await run(10, 0)).crops).toHaveLength(10);
  });
});
