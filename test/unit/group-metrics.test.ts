/**
 * The fairness table of `faceedge eval --report` on a small labelled fixture: a fake detector and
 * classifier (the colour of an image decides), a labels.csv with UTKFace's age/race columns one folder up.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/capture/frame.js';
import { evaluateFolder, type EvalClassifier, type EvalDetector } from '../../src/evaluation/evaluate-folder.js';
import { ageBand, readImageGroups } from '../../src/evaluation/group-metrics.js';
import { writeReport } from '../../src/evaluation/write-report.js';
import { toClassification } from '../../src/inference/face-classifier.js';
import { DEFAULT_ALIGNMENT } from '../../src/vision/align-face.js';

const LABELS = ['female', 'male'];
const face = {
  box: { x: 20, y: 20, width: 40, height: 40 },
  score: 0.9,
  keypoints: {
    rightEye: { x: 32, y: 35 },
    leftEye: { x: 48, y: 35 },
    noseTip: { x: 40, y: 42 },
    mouth: { x: 40, y: 50 },
    rightEar: { x: 20, y: 38 },
    leftEar: { x: 60, y: 38 },
  },
};
/** Black images have no face; every other image has one. */
const detector: EvalDetector = {
  model: 'short',
  detect: async (image: RgbImage) => (image.data[0] + image.data[2] > 0 ? [face] : []),
};
/** Red crops are female, blue ones male. */
const classifier: EvalClassifier = {
  id: 'fake',
  labels: LABELS,
  inputSize: 64,
  alignment: DEFAULT_ALIGNMENT,
  modelPath: '/m/fake.tflite',
  manifest: { id: 'fake', labels: LABELS, input: { width: 64, height: 64, channels: 3 }, files: {} },
  delegate: { requested: 'xnnpack', active: 'xnnpack', fallbackReason: null },
  classifySync: (crop) => toClassification(LABELS, crop[0] > 128 ? 0.1 : 0.9),
};
const RED = { r: 220, g: 0, b: 0 };
const BLUE = { r: 0, g: 0, b: 220 };
const BLACK = { r: 0, g: 0, b: 0 };

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'faceedge-groups-'));
  // [file, colour, age, race]: the 60+ women are classified male, one 20s man has no face, one teen has no race code.
  const images: [string, typeof RED, number, number | ''][] = [
    ['female/a.png', RED, 25, 0],
    ['female/b.png', RED, 27, 1],
    ['female/c.png', BLUE, 64, 0],
    ['female/d.png', BLUE, 71, 1],
    ['male/e.png', BLUE, 23, 0],
    ['male/f.png', BLACK, 29, 1],
    ['male/g.png', BLUE, 66, 2],
    ['male/h.png', BLUE, 15, ''],
  ];
  const rows = ['path,label,source_id,age,race'];
  for (const [file, colour, age, race] of images) {
    mkdirSync(join(root, 'test', file, '..'), { recursive: true });
    writeFileSync(
      join(root, 'test', file),
      await sharp({ create: { width: 80, height: 80, channels: 3, background: colour } })
        .png()
        .toBuffer(),
    );
    rows.push(`test/${file},${file.split('/')[0]},x.jpg,${age},${race}`);
  }
  rows.push('val/female/zz.png,female,y.jpg,40,3'); // another split's row: not part of this evaluation
  writeFileSync(join(root, 'labels.csv'), `${rows.join('\n')}\n`);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('per-group accuracy', () => {
  it('age bands are 13-19, 20-29, ..., 60+', () => {
    expect([13, 19, 20, 29, 35, 59, 60, 101].map(ageBand)).toEqual([
      '13-19',
      '13-19',
      '20-29',
      '20-29',
      '30-39',
      '50-59',
      '60+',
      '60+',
    ]);
  });

  it("finds labels.csv one folder up and keys it by the evaluated folder's paths", async () => {
    const found = await readImageGroups(join(root, 'test'));
    expect(found?.source).toBe(join(root, 'labels.csv'));
    // The band, and the age itself (an anchor's error in years is measured against it).
    expect(found?.groups.get('female/c.png')).toEqual({ age: '60+', years: 64, race: 'White' });
    expect(found?.groups.has('zz.png')).toBe(false);
    expect(await readImageGroups(join(root, 'nowhere', 'deeper'))).toBeNull();
  });

  it('eval reports accuracy and recall per age band and ethnicity, counting faceless images as wrong', async () => {
    const { summary } = await evaluateFolder({ root: join(root, 'test'), detector, classifier });
    const groups = summary.groups!;
    expect(groups.age).toEqual([
      { group: '13-19', n: 1, accuracy: 1, recall: { female: null, male: 1 } },
      { group: '20-29', n: 4, accuracy: 0.75, recall: { female: 1, male: 0.5 } },
      { group: '60+', n: 3, accuracy: 1 / 3, recall: { female: 0, male: 1 } },
    ]);
    expect(groups.race.map((r) => [r.group, r.n, r.accuracy])).toEqual([
      ['Asian', 1, 1],
      ['Black', 3, 1 / 3],
      ['unknown', 1, 1],
      ['White', 3, 2 / 3],
    ]);
    // Every group is under 30 images here: none is named the worst.
    expect(groups.worst).toBeNull();
  });

  it('the report carries the table and a chart', async () => {
    const evaluation = await evaluateFolder({ root: join(root, 'test'), detector, classifier });
    const out = join(root, 'report');
    await writeReport(evaluation, { dir: out, manifest: classifier.manifest, dataset: join(root, 'test') });
    expect(existsSync(join(out, 'groups.png'))).toBe(true);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    expect(md).toContain('| 60+ | 3 | 0.3333 | 0.0000 | 1.0000 |');
    expect(md).toContain('| Black | 3 | 0.3333 |');
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).summary.groups.age).toHaveLength(3);
  });
});
