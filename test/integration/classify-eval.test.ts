/**
 * `faceedge classify` and `faceedge eval` end to end: the real TFLite runtime, the real BlazeFace
 * detector, a real classifier (see test/helpers/test-classifier.ts) and real face photos.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { trainingHistory } from '../../src/evaluation/training-history.js';
import { modelManifestSchema } from '../../src/inference/model-manifest.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { hasStackTrace, REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const FACES_DEV_TEST = join(REPO_ROOT, '../shared/data/faces-dev/test');
const CLASSIFIER = testClassifierPath();
const PER_CLASS = 20;
const temps: string[] = [];

afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

describe('the real detector on astronaut.png', () => {
  it('finds one face with a plausible box and keypoints, where the golden fixture says', async () => {
    const detector = await FaceDetector.create({ model: 'short' });
    let faces: DetectedFace[];
    try {
      faces = await detector.detect(await decodeImage(readFileSync(ASTRONAUT), 'astronaut.png'));
    } finally {
      await detector.close();
    }
    expect(faces).toHaveLength(1);
    const [{ box, keypoints: k, score }] = faces;
    expect(score).toBeGreaterThan(0.8);
    expect(box.x).toBeCloseTo(177, -1);
    expect(box.y).toBeCloseTo(81, -1);
    expect(Math.abs(box.width - 95)).toBeLessThan(6);
    expect(Math.abs(box.height - 95)).toBeLessThan(6);
    // Subject's right eye on the image's left, eyes in the upper half, nose below them, mouth lowest.
    expect(k.leftEye.x - k.rightEye.x).toBeGreaterThan(30);
    expect(k.leftEye.x - k.rightEye.x).toBeLessThan(60);
    for (const eye of [k.rightEye, k.leftEye]) expect(eye.y).toBeLessThan(box.y + box.height / 2);
    expect(k.noseTip.y).toBeGreaterThan(Math.max(k.rightEye.y, k.leftEye.y));
    expect(k.mouth.y).toBeGreaterThan(k.noseTip.y);
    for (const p of [k.rightEye, k.leftEye, k.noseTip, k.mouth]) {
      expect(p.x).toBeGreaterThan(box.x);
      expect(p.x).toBeLessThan(box.x + box.width);
      expect(p.y).toBeGreaterThan(box.y);
      expect(p.y).toBeLessThan(box.y + box.height);
    }
    // The golden crop was aligned from this detection; a detector drift of > 1.5 px would show here first.
    const golden = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/golden/golden.json'), 'utf8')).crops[0]
      .face as DetectedFace;
    expect(
      Math.hypot(k.rightEye.x - golden.keypoints.rightEye.x, k.rightEye.y - golden.keypoints.rightEye.y),
    ).toBeLessThan(1.5);
    expect(Math.hypot(k.leftEye.x - golden.keypoints.leftEye.x, k.leftEye.y - golden.keypoints.leftEye.y)).toBeLessThan(
      1.5,
    );
  });
});

describe.skipIf(!CLASSIFIER)(`faceedge classify (${CLASSIFIER ?? NO_CLASSIFIER_REASON})`, () => {
  const model = CLASSIFIER as string;

  it('--json prints one line per image with the face box, detection score, class and the probability of each label', async () => {
    const r = await runCli(['classify', ASTRONAUT, '--json', '--model', model]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const result = JSON.parse(lines[0]);
    expect(result.file).toBe(ASTRONAUT);
    expect(result.faces).toHaveLength(1);
    const [face] = result.faces;
    expect(Object.keys(face.box).sort()).toEqual(['height', 'width', 'x', 'y']);
    expect(Math.abs(face.box.x - 177)).toBeLessThan(6);
    expect(Math.abs(face.box.width - 95)).toBeLessThan(6);
    expect(Object.keys(face).sort()).toEqual([
      'box',
      'class',
      'class_probability',
      'confidence',
      'detection_score',
      'probabilities',
    ]);
    expect(face.detection_score).toBeGreaterThan(0.8);
    expect(['female', 'male']).toContain(face.class);
    // One probability per label, named by its label; the class is decided against the model's threshold.
    expect(Object.keys(face.probabilities).sort()).toEqual(['female', 'male']);
    expect(face.probabilities.female + face.probabilities.male).toBeCloseTo(1, 3);
    expect(face.class_probability).toBe(face.probabilities[face.class]);
    const threshold =
      modelManifestSchema.parse(JSON.parse(readFileSync(join(dirname(model), 'manifest.json'), 'utf8'))).threshold ??
      0.5;
    expect(face.class).toBe(face.probabilities.male >= threshold ? 'male' : 'female');
    expect(face.confidence).toBeGreaterThanOrEqual(0.5);
  });

  it('without --json prints a table, and a relative --model resolves from the working directory', async () => {
    const r = await runCli(['classify', ASTRONAUT, '--model', model.split('/').pop() as string], {
      cwd: dirname(model),
    });
    expect(r.code, r.stderr).toBe(0);
    const [header, rule, row] = r.stdout.trim().split('\n');
    expect(header).toMatch(/^file\s+face\s+box/);
    expect(rule).toMatch(/^-+ +-+/);
    expect(row).toMatch(/astronaut\.png\s+1\s+\d+,\d+,\d+,\d+\s+0\.\d{3}\s+[01]\.\d{3}\s+(female|male)$/);
  });
});

const hasFacesDev = existsSync(join(FACES_DEV_TEST, 'female')) && existsSync(join(FACES_DEV_TEST, 'male'));
const evalSkip = !CLASSIFIER ? NO_CLASSIFIER_REASON : !hasFacesDev ? `faces-dev is absent (${FACES_DEV_TEST})` : null;

describe.skipIf(evalSkip !== null)(
  `faceedge eval on ${2 * PER_CLASS} faces-dev test photos (${evalSkip ?? 'real classifier'})`,
  () => {
    const model = CLASSIFIER as string;

    /** A temp folder (outside the repo: CelebA stays where it is) with the first PER_CLASS photos per class. */
    function smallSet(): string {
      const root = tempDir('faceedge-eval-set-');
      for (const label of ['female', 'male']) {
        mkdirSync(join(root, label));
        for (const f of readdirSync(join(FACES_DEV_TEST, label)).sort().slice(0, PER_CLASS)) {
          copyFileSync(join(FACES_DEV_TEST, label, f), join(root, label, f));
        }
      }
      return root;
    }

    it('--json prints one sane summary and --report writes valid charts, report.json and report.md', async () => {
      const set = smallSet();
      const reportDir = join(tempDir('faceedge-eval-report-'), 'report');
      const r = await runCli(['eval', set, '--json', '--model', model, '--report', reportDir], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(hasStackTrace(r.stderr)).toBe(false);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const s = JSON.parse(lines[0]);

      expect(s.n).toBe(2 * PER_CLASS);
      expect(s.detected).toBeGreaterThanOrEqual(0.8 * s.n); // CelebA photos are aligned portraits
      const cells = ['female', 'male'].flatMap((t) => ['female', 'male'].map((p) => s.confusion[t][p] as number));
      expect(cells.reduce((a, b) => a + b, 0)).toBe(s.detected);
      expect(s.accuracy).toBeCloseTo((s.confusion.female.female + s.confusion.male.male) / s.detected, 12);
      expect(s.accuracy_all).toBeCloseTo((s.accuracy * s.detected) / s.n, 12);
      expect(s.recall.female).toBeCloseTo(
        s.confusion.female.female / (s.confusion.female.female + s.confusion.female.male),
        12,
      );
      expect(s.roc_auc).toBeGreaterThanOrEqual(0);
      expect(s.roc_auc).toBeLessThanOrEqual(1);
      expect(s.ms_per_face).toBeGreaterThan(0);
      expect(s.ms_per_image).toBeGreaterThan(s.ms_per_face);
      expect(s.model.path).toBe(model);
      expect(s.model.sha256).toBe(createHash('sha256').update(readFileSync(model)).digest('hex'));
      expect(s.model.delegate).toBeTruthy();

      // The board path must reach what training measured on its own crops, within the noise of 40 images.
      const manifest = modelManifestSchema.parse(
        JSON.parse(readFileSync(join(dirname(model), 'manifest.json'), 'utf8')),
      );
      const metrics = manifest.metrics as { test?: { accuracy?: number }; val?: { accuracy?: number } } | undefined;
      const trained = metrics?.test?.accuracy ?? metrics?.val?.accuracy ?? 0.75;
      expect(s.accuracy).toBeGreaterThanOrEqual(trained - 0.15);

      for (const chart of ['confusion-matrix.png', 'roc.png']) {
        const meta = await sharp(join(reportDir, chart)).metadata();
        expect(meta.format, chart).toBe('png');
        expect(meta.width, chart).toBeGreaterThan(300);
      }
      const report = JSON.parse(readFileSync(join(reportDir, 'report.json'), 'utf8'));
      expect(report.summary).toEqual(s);
      expect(report.per_class.male.support).toBe(s.confusion.male.female + s.confusion.male.male);
      expect(report.misclassified).toHaveLength(s.confusion.female.male + s.confusion.male.female);
      expect(report.undetected).toHaveLength(s.n - s.detected);
      if (trainingHistory(manifest)) {
        expect((await sharp(join(reportDir, 'learning-curves.png')).metadata()).format).toBe('png');
      } else {
        expect(existsSync(join(reportDir, 'learning-curves.png'))).toBe(false);
        expect(report.notes.join(' ')).toContain('learning-curves.png skipped');
        expect(r.stderr).toContain('learning-curves.png skipped');
      }
      const md = readFileSync(join(reportDir, 'report.md'), 'utf8');
      expect(md).toContain(`# Evaluation of ${s.model.id}`);
      expect(md).toContain('![confusion-matrix.png](confusion-matrix.png)');
      expect(md).toContain(`| accuracy (detected) | ${s.accuracy.toFixed(4)} |`);
    });

    it('several folders: each is reported, then the total over all their images', async () => {
      const [a, b] = [smallSet(), smallSet()];
      const r = await runCli(['eval', a, b, '--limit', '6', '--json', '--model', model]);
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout.trim());
      expect(out.folders.map((f: { dir: string }) => f.dir)).toEqual([a, b]);
      const [sa, sb] = out.folders.map((f: { summary: { n: number; detected: number } }) => f.summary);
      expect(out.total.n).toBe(sa.n + sb.n);
      expect(out.total.detected).toBe(sa.detected + sb.detected);
      // The same photos twice: the total's accuracy is the folders' accuracy.
      expect(out.total.accuracy).toBeCloseTo(sa.accuracy, 12);
    });

    it('model calibrate chooses a threshold on folders and --write stores it in the manifest, which classify then uses', async () => {
      const dir = tempDir('faceedge-calibrate-');
      for (const f of readdirSync(dirname(model)))
        if (f.endsWith('.tflite') || f === 'manifest.json') copyFileSync(join(dirname(model), f), join(dir, f));
      const copy = join(dir, model.split('/').at(-1)!);
      const r = await runCli(['model', 'calibrate', copy, smallSet(), '--write'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const printed = JSON.parse(r.stdout);
      expect(printed.threshold).toBeGreaterThan(0.05);
      expect(printed.threshold).toBeLessThan(0.95);
      expect(printed.balanced_accuracy).toBeGreaterThanOrEqual(printed.balanced_accuracy_at_half);
      const manifest = modelManifestSchema.parse(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')));
      expect(manifest.threshold).toBe(printed.threshold);
      expect((manifest as { threshold_calibration?: { sets: unknown[] } }).threshold_calibration?.sets).toHaveLength(1);
      // The edited manifest still loads (the threshold is validated by the manifest schema).
      const c = await runCli(['classify', ASTRONAUT, '--json', '--model', copy]);
      expect(c.code, c.stderr).toBe(0);
    });

    it('--limit spreads over the classes and the default output is a table', async () => {
      const r = await runCli(['eval', smallSet(), '--limit', '4', '--model', model]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^images\s+4$/m);
      expect(r.stdout).toMatch(/^female\s+\S+\s+\S+\s+\S+\s+2\s/m);
      expect(r.stdout).toMatch(/^male\s+\S+\s+\S+\s+\S+\s+2\s/m);
    });
  },
);
