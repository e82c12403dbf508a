/**
 * Several cameras share one detector and one classifier. Concurrent callers must get exactly what
 * they get one at a time: each call's input is its own, whatever the interleaving in the shared
 * interpreter's queue. Real TFLite runtime, real BlazeFace, the shipped classifier, real images.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/capture/frame.js';
import { FaceClassifier, type Classification } from '../../src/inference/face-classifier.js';
import { TfliteModel } from '../../src/inference/tflite-model.js';
import { alignFace } from '../../src/vision/align-face.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { blazeFaceModelPath, FaceDetector } from '../../src/inference/face-detector.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const CLASSIFIER = testClassifierPath();
const N = 12;

/** Distinct frames: the astronaut photo mirrored, shifted and scaled, and two other scenes' frames. */
async function frames(): Promise<RgbImage[]> {
  const astronaut = readFileSync(join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png'));
  const variants = [
    sharp(astronaut),
    sharp(astronaut).flop(),
    sharp(astronaut).extend({ left: 90, top: 40, background: '#808080' }),
    sharp(astronaut).resize(300),
    sharp(join(REPO_ROOT, 'test/fixtures/golden/head-pose-f000-left.png')),
    sharp(join(REPO_ROOT, 'test/fixtures/golden/head-pose-f030-right.png')),
  ];
  return Promise.all(variants.map(async (v, i) => decodeImage(await v.png().toBuffer(), `variant-${i}`)));
}

describe('one model shared by concurrent callers', () => {
  let detector: FaceDetector;
  let images: RgbImage[];
  beforeAll(async () => {
    detector = await FaceDetector.create({ model: 'short' });
    images = await frames();
  });
  afterAll(async () => detector?.close());

  it('detect: N concurrent calls on different frames give exactly the sequential results', async () => {
    const sequential: DetectedFace[][] = [];
    for (const image of images) sequential.push(await detector.detect(image));
    expect(sequential.filter((faces) => faces.length > 0).length).toBeGreaterThanOrEqual(4);
    // Every frame must differ from the others, or a crossover could not be seen.
    const boxes = sequential.map((faces) => JSON.stringify(faces.map((f) => f.box)));
    expect(new Set(boxes).size).toBe(images.length);
    const order = Array.from({ length: N * images.length }, (_, i) => i % images.length);
    const concurrent = await Promise.all(order.map((i) => detector.detect(images[i])));
    concurrent.forEach((faces, k) => expect(faces).toEqual(sequential[order[k]]));
  });

  it.skipIf(!CLASSIFIER)(
    `classify ${CLASSIFIER ? '' : `(${NO_CLASSIFIER_REASON}) `}- N concurrent calls on different crops give exactly the sequential results`,
    async () => {
      const classifier = await FaceClassifier.create({ modelPath: CLASSIFIER! });
      try {
        const crops: Uint8Array[] = [];
        for (const image of images) {
          for (const face of await detector.detect(image)) crops.push(alignFace(image, face, classifier.alignment));
        }
        const sequential: Classification[] = [];
        for (const crop of crops) sequential.push(await classifier.classify(crop));
        expect(new Set(sequential.map((c) => c.probability)).size).toBeGreaterThan(2);
        const order = Array.from({ length: N * crops.length }, (_, i) => (i * 7) % crops.length);
        const concurrent = await Promise.all(order.map((i) => classifier.classify(crops[i])));
        concurrent.forEach((c, k) => expect(c).toEqual(sequential[order[k]]));
      } finally {
        await classifier.close();
      }
    },
  );

  it('runSync is refused while asynchronous runs of the same model are pending', async () => {
    const model = await TfliteModel.load(blazeFaceModelPath('short'));
    try {
      const input = new Float32Array(model.inputs[0].byteSize / 4);
      const pending = model.run([input]);
      expect(() => model.runSync([input])).toThrow(/asynchronous run/);
      await pending;
      expect(model.runSync([input])).toHaveLength(2);
    } finally {
      await model.close();
    }
  });
});
