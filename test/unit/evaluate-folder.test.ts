import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_ALIGNMENT } from '../../src/vision/align-face.js';
import type { RgbImage } from '../../src/capture/frame.js';
import { FaceedgeError } from '../../src/errors.js';
import { evaluateFolder, type EvalClassifier, type EvalDetector } from '../../src/evaluation/evaluate-folder.js';
import { toClassification } from '../../src/inference/face-classifier.js';
import type { DetectedFace } from '../../src/vision/face.js';

const LABELS = ['female', 'male'];
const RED = { r: 220, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 220 };
const GREEN = { r: 0, g: 220, b: 0 };
const YELLOW = { r: 220, g: 220, b: 0 };

const someFace = (x: number): DetectedFace => ({
  box: { x, y: 20, width: 40, height: 40 },
  keypoints: {
    rightEye: { x: x + 12, y: 35 },
    leftEye: { x: x + 28, y: 35 },
    noseTip: { x: x + 20, y: 42 },
    mouth: { x: x + 20, y: 50 },
    rightEar: { x, y: 38 },
    leftEar: { x: x + 40, y: 38 },
  },
  score: 0.9,
});

/** Fake detector keyed on the image colour: red/blue = one face, green = none, yellow = two alike. */
const detector: EvalDetector = {
  model: 'short',
  async detect(image: RgbImage) {
    const [r, g, b] = image.data;
    if (g > 100 && r > 100) return [someFace(0), someFace(40)];
    if (g > 100) return [];
    return r > 100 || b > 100 ? [someFace(20)] : [];
  },
};

/** Fake classifier: a red crop is female (p(male) 0.2), anything else male (0.9). */
const classifier: EvalClassifier = {
  id: 'fake',
  labels: LABELS,
  inputSize: 64,
  alignment: DEFAULT_ALIGNMENT,
  modelPath: '/models/fake.tflite',
  manifest: {
    id: 'fake',
    labels: LABELS,
    input: { width: 64, height: 64, channels: 3 },
    files: { int8: { path: 'fake.tflite', dtype: 'int8', sha256: 'ab'.repeat(32), bytes: 1 } },
  },
  delegate: { requested: 'xnnpack', active: 'xnnpack', fallbackReason: null },
  classifySync: (crop) => toClassification(LABELS, crop[0] > 128 ? 0.2 : 0.9),
};

let root: string;
const png = (colour: typeof RED) =>
  sharp({ create: { width: 80, height: 80, channels: 3, background: colour } })
    .png()
    .toBuffer();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'faceedge-evaluate-'));
  const files: [string, Buffer][] = [
    ['female/a.png', await png(RED)],
    ['female/b.png', await png(BLUE)],
    ['female/c.png', await png(GREEN)],
    ['male/d.png', await png(BLUE)],
    ['male/e.png', await png(YELLOW)],
    ['male/f.jpg', Buffer.from('not a jpeg')],
  ];
  for (const [rel, bytes] of files) {
    mkdirSync(join(root, 'set', rel, '..'), { recursive: true });
    writeFileSync(join(root, 'set', rel), bytes);
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('evaluateFolder (fake detector and classifier)', () => {
  it('classifies the face each photo is about, records why the others were not, and summarizes', async () => {
    const progress: number[] = [];
    const { summary, images } = await evaluateFolder({
      root: join(root, 'set'),
      detector,
      classifier,
      onImage: (done) => progress.push(done),
    });
    expect(progress).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(images.map((o) => [o.file, o.status, o.predicted ?? null])).toEqual([
      ['female/a.png', 'classified', 'female'],
      ['female/b.png', 'classified', 'male'],
      ['female/c.png', 'no face', null],
      // Two equal faces: classified (the more central one), counted as such, not skipped.
      ['male/d.png', 'classified', 'male'],
      ['male/e.png', 'classified', 'female'],
      ['male/f.jpg', 'unreadable', null],
    ]);
    expect(images.map((o) => o.crowded ?? null)).toEqual([false, false, null, false, true, null]);
    expect(images[5].detail).toContain('male/f.jpg');
    expect(summary).toMatchObject({
      n: 6,
      detected: 4,
      several_faces_classified: 1,
      confusion: { female: { female: 1, male: 1 }, male: { female: 1, male: 1 } },
      recall: { female: 0.5, male: 0.5 },
      precision: { female: 0.5, male: 0.5 },
      undetected: { 'no face': 1, unreadable: 1 },
      detector: 'short',
      model: { id: 'fake', path: '/models/fake.tflite', sha256: 'ab'.repeat(32), delegate: 'xnnpack' },
    });
    expect(summary.accuracy).toBeCloseTo(2 / 4, 12);
    expect(summary.accuracy_all).toBeCloseTo(2 / 6, 12);
    // male d (0.9) vs female a (0.2): 1, vs b (0.9): ½; male e (0.2) vs a: ½, vs b: 0 → 0.5.
    expect(summary.roc_auc).toBe(0.5);
    expect(summary.ms_per_face).toBeGreaterThan(0);
  });

  it('--limit takes exactly that many images, in proportion to the classes', async () => {
    for (const limit of [1, 2, 3, 5]) {
      const { images } = await evaluateFolder({ root: join(root, 'set'), detector, classifier, limit });
      expect(images).toHaveLength(limit);
      if (limit >= 2) expect(new Set(images.map((o) => o.truth))).toEqual(new Set(LABELS));
    }
  });

  it('refuses a folder with splits and class folders the model does not know', async () => {
    mkdirSync(join(root, 'splits/test/female'), { recursive: true });
    writeFileSync(join(root, 'splits/test/female/a.png'), await png(RED));
    mkdirSync(join(root, 'foreign/cat'), { recursive: true });
    writeFileSync(join(root, 'foreign/cat/a.png'), await png(RED));
    for (const folder of ['splits', 'foreign', 'missing']) {
      const err = await evaluateFolder({ root: join(root, folder), detector, classifier }).catch((e: unknown) => e);
      expect(err, folder).toBeInstanceOf(FaceedgeError);
      expect((err as FaceedgeError).code).toBe('DATASET_INVALID');
    }
  });
});
