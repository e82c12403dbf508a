/**
 * The pair in `faceedge eval --head` (src/evaluation/paired-eval.ts) with stand-in probabilities: the pair's answer
 * is the normalised geometric mean of the two models' probabilities at the pair's temperature (worked out by hand
 * here, not by the code under test), and evaluateFolder scores the pair as the model under test with the image
 * model alone beside it on the same faces.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/capture/frame.js';
import { toSoftmaxClassification } from '../../src/classification/classification.js';
import { evaluateFolder, type EvalClassifier, type EvalDetector } from '../../src/evaluation/evaluate-folder.js';
import { pairAnswer, type EvalPair } from '../../src/evaluation/paired-eval.js';
import { DEFAULT_ALIGNMENT } from '../../src/vision/align-face.js';
import type { DetectedFace } from '../../src/vision/face.js';

const LABELS = ['a', 'b', 'c'];
const RED = { r: 220, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 220 };
const GREEN = { r: 0, g: 220, b: 0 };

describe('pairAnswer', () => {
  const image = [0.5, 0.3, 0.2];
  const head = [0.05, 0.05, 0.9].map(Math.log);

  it('at temperature ½, the normalised product of the two models’ probabilities', () => {
    // 0.5·0.05, 0.3·0.05, 0.2·0.9 = 0.025, 0.015, 0.18 (sum 0.22): c, with 0.18 / 0.22.
    const answer = pairAnswer(LABELS, image, head, { temperature: 0.5, unsureFloor: 0.5 });
    expect(answer.predicted).toBe('c');
    expect(answer.probability).toBeCloseTo(0.18 / 0.22, 10);
    expect(answer.unsure).toBe(false);
  });

  it('at temperature 1, the normalised geometric mean; below the pair’s floor, unsure but still the argmax', () => {
    const mean = image.map((p, i) => Math.sqrt(p * Math.exp(head[i])));
    const sum = mean.reduce((s, v) => s + v, 0);
    const answer = pairAnswer(LABELS, image, head, { temperature: 1, unsureFloor: 0.9 });
    expect(answer).toEqual({ predicted: 'c', unsure: true, probability: expect.any(Number) as number });
    expect(answer.probability).toBeCloseTo(mean[2] / sum, 10);
  });

  it('two labels: the positive label’s probability, as eval scores a two-label model', () => {
    // 0.8·0.4 = 0.32 against 0.2·0.6 = 0.12: the first label, P(second) = 0.12 / 0.44.
    const answer = pairAnswer(['x', 'y'], [0.2, 0.8], [0.6, 0.4].map(Math.log), { temperature: 0.5, unsureFloor: 0 });
    expect(answer).toEqual({ predicted: 'y', probability: expect.any(Number) as number });
    expect(answer.probability).toBeCloseTo(0.32 / 0.44, 10);
  });
});

const someFace: DetectedFace = {
  box: { x: 20, y: 20, width: 40, height: 40 },
  keypoints: {
    rightEye: { x: 32, y: 35 },
    leftEye: { x: 48, y: 35 },
    noseTip: { x: 40, y: 42 },
    mouth: { x: 40, y: 50 },
    rightEar: { x: 20, y: 38 },
    leftEar: { x: 60, y: 38 },
  },
  score: 0.9,
};

/** A face in every photo but a green one. */
const detector: EvalDetector = {
  model: 'short',
  async detect(image: RgbImage) {
    return image.data[1] > 100 ? [] : [someFace];
  },
};

/** Image model: a red face is `a` (0.5, 0.3, 0.2), any other `b` (0.2, 0.6, 0.2); its own unsure floor 0.55. */
const classifier: EvalClassifier = {
  id: 'fake-age',
  labels: LABELS,
  inputSize: 64,
  alignment: DEFAULT_ALIGNMENT,
  modelPath: '/models/fake-age.tflite',
  manifest: {
    id: 'fake-age',
    labels: LABELS,
    ordered: true,
    unsure_floor: 0.55,
    input: { width: 64, height: 64, channels: 3 },
    files: { int8: { path: 'fake-age.tflite', dtype: 'int8', sha256: 'ab'.repeat(32), bytes: 1 } },
  },
  delegate: { requested: 'xnnpack', active: 'xnnpack', fallbackReason: null },
  classifySync: (crop) =>
    toSoftmaxClassification(LABELS, (crop[0] > 128 ? [0.5, 0.3, 0.2] : [0.2, 0.6, 0.2]).map(Math.log), {
      unsureFloor: 0.55,
    }),
};

/** Stand-in embedder (the crop's first colour as the "embedding") and head: red is surely `c`, else surely `a`. */
const pair: EvalPair = {
  embedder: {
    id: 'fake-embed',
    sha256: 'cd'.repeat(32),
    flipAverage: true,
    crop: (image) => Buffer.from(image.data.subarray(0, 3)),
    embedCropSync: (crop) => Float32Array.from(crop),
  },
  head: {
    id: 'fake-head',
    modelPath: '/models/head.tflite',
    sha256: 'ef'.repeat(32),
    logProbabilities: async (embedding) => (embedding[0] > 128 ? [0.05, 0.05, 0.9] : [0.9, 0.05, 0.05]).map(Math.log),
  },
  rules: { temperature: 1, unsureFloor: 0.45 },
};

let root: string;
const png = (colour: typeof RED) =>
  sharp({ create: { width: 80, height: 80, channels: 3, background: colour } })
    .png()
    .toBuffer();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'faceedge-paired-eval-'));
  for (const [rel, colour] of [
    ['a/red.png', RED],
    ['b/blue.png', BLUE],
    ['c/red.png', RED],
    ['c/green.png', GREEN],
  ] as const) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), await png(colour));
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('evaluateFolder with a pair (stand-in models)', () => {
  it('scores the pair as the model under test, and the image model alone beside it on the same faces', async () => {
    const evaluation = await evaluateFolder({ root, detector, classifier, pair });
    const answers = (e: typeof evaluation) => e.images.map((o) => [o.file, o.status, o.predicted ?? null]);
    // Red: image (0.5, 0.3, 0.2) with head (0.05, 0.05, 0.9) → c; blue: (0.2, 0.6, 0.2) with (0.9, 0.05, 0.05) → a.
    expect(answers(evaluation)).toEqual([
      ['a/red.png', 'classified', 'c'],
      ['b/blue.png', 'classified', 'a'],
      ['c/green.png', 'no face', null],
      ['c/red.png', 'classified', 'c'],
    ]);
    expect(evaluation.alone).toBeDefined();
    const alone = evaluation.alone as typeof evaluation;
    expect(answers(alone)).toEqual([
      ['a/red.png', 'classified', 'a'],
      ['b/blue.png', 'classified', 'b'],
      ['c/green.png', 'no face', null],
      ['c/red.png', 'classified', 'a'],
    ]);
    expect(evaluation.summary.accuracy_all).toBeCloseTo(1 / 4, 12);
    expect(alone.summary.accuracy_all).toBeCloseTo(2 / 4, 12);
    // Each side decides "unsure" at its own floor: the pair's from the head manifest, the model's from its own.
    expect(evaluation.decision).toEqual({ ordered: true, unsureFloor: 0.45 });
    expect(alone.decision).toEqual({ ordered: true, unsureFloor: 0.55 });
    expect(evaluation.summary.pair).toEqual({
      head: { id: 'fake-head', path: '/models/head.tflite', sha256: 'ef'.repeat(32) },
      embedder: { id: 'fake-embed', sha256: 'cd'.repeat(32), test_time_flip: true },
      temperature: 1,
      unsure_floor: 0.45,
    });
    expect(alone.summary.pair).toBeUndefined();
    expect(alone.alone).toBeUndefined();
  });

  it('without a pair, the image model alone as before', async () => {
    const evaluation = await evaluateFolder({ root, detector, classifier });
    expect(evaluation.alone).toBeUndefined();
    expect(evaluation.summary.pair).toBeUndefined();
    expect(evaluation.images.map((o) => o.predicted ?? null)).toEqual(['a', 'b', null, 'a']);
  });
});
