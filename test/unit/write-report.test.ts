import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { summarize, type ImageOutcome } from '../../src/evaluation/evaluate-folder.js';
import { learningCurvesSvg } from '../../src/evaluation/charts.js';
import { escapeXml } from '../../src/evaluation/svg-chart.js';
import { writeReport } from '../../src/evaluation/write-report.js';
import type { ModelManifest } from '../../src/inference/model-manifest.js';

const LABELS = ['female', 'male'];
const about = {
  detector: 'short',
  model: { id: 'faceedge-test', path: '/m/faceedge-test_int8.tflite', sha256: 'cd'.repeat(32), delegate: 'xnnpack' },
};
const manifest: ModelManifest = {
  id: 'faceedge-test',
  labels: LABELS,
  input: { width: 64, height: 64, channels: 3 },
  files: { int8: { path: 'faceedge-test_int8.tflite', dtype: 'int8', sha256: 'cd'.repeat(32), bytes: 10 } },
};
const outcome = (
  file: string,
  truth: string,
  probability: number | null,
  status: ImageOutcome['status'] = 'classified',
): ImageOutcome =>
  probability === null
    ? {
        file,
        truth,
        status,
        msImage: 9,
        ...(status === 'unreadable' ? { detail: `${file}: not a readable image` } : {}),
      }
    : { file, truth, status, predicted: probability >= 0.5 ? 'male' : 'female', probability, msImage: 12, msFace: 0.4 };

const evaluation = summarize(
  [
    outcome('female/1.jpg', 'female', 0.1),
    outcome('female/2.jpg', 'female', 0.6),
    outcome('female/3.jpg', 'female', null, 'no face'),
    outcome('male/4.jpg', 'male', 0.8),
    outcome('male/5.jpg', 'male', 0.3),
    outcome('male/6.jpg', 'male', 0.95),
    outcome('male/7.jpg', 'male', null, 'unreadable'),
  ],
  LABELS,
  about,
);

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'faceedge-report-'));
  dirs.push(d);
  return join(d, 'report');
};

async function pngSize(path: string): Promise<[number, number]> {
  const meta = await sharp(path).metadata();
  expect(meta.format).toBe('png');
  return [meta.width ?? 0, meta.height ?? 0];
}

describe('writeReport', () => {
  it('writes the three charts as PNG, report.json and report.md when the manifest has a history', async () => {
    const dir = tempDir();
    const history = [1, 2, 3].map((epoch) => ({
      epoch,
      train_loss: 0.7 / epoch,
      val_loss: 0.8 / epoch,
      train_acc: 0.6 + 0.1 * epoch,
      val_acc: 0.55 + 0.1 * epoch,
      lr: 0.001,
    }));
    const written = await writeReport(evaluation, {
      dir,
      manifest: { ...manifest, training: { history } },
      dataset: 'faces/test',
    });
    expect(written.notes).toEqual([]);
    expect(written.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'confusion-matrix.png',
      'roc.png',
      'learning-curves.png',
      'report.json',
      'report.md',
    ]);
    expect(await pngSize(join(dir, 'confusion-matrix.png'))).toEqual([430, 360]);
    expect(await pngSize(join(dir, 'roc.png'))).toEqual([480, 480]);
    expect(await pngSize(join(dir, 'learning-curves.png'))).toEqual([940, 420]);
    // The confusion chart is not blank: its diagonal cells are coloured by their row share.
    const { data } = await sharp(join(dir, 'confusion-matrix.png'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(data.some((v, i) => i % 3 === 2 && v < 200 && data[i - 2] < 100)).toBe(true);

    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(report.summary).toEqual(JSON.parse(JSON.stringify(evaluation.summary)));
    expect(report.per_class.male).toEqual({ precision: 2 / 3, recall: 2 / 3, f1: 2 / 3, support: 3 });
    expect(report.misclassified).toEqual([
      { file: 'female/2.jpg', truth: 'female', predicted: 'male', probability: 0.6 },
      { file: 'male/5.jpg', truth: 'male', predicted: 'female', probability: 0.3 },
    ]);
    expect(report.undetected).toEqual([
      { file: 'female/3.jpg', truth: 'female', reason: 'no face' },
      { file: 'male/7.jpg', truth: 'male', reason: 'unreadable', detail: 'male/7.jpg: not a readable image' },
    ]);
    const md = readFileSync(join(dir, 'report.md'), 'utf8');
    expect(md).toContain('# Evaluation of faceedge-test');
    expect(md).toContain(`| accuracy (detected) | ${(3 / 5).toFixed(4)} |`);
    expect(md).toContain('| male | 1 | 2 |');
    expect(md).toContain('![learning-curves.png](learning-curves.png)');
    expect(md).toContain('## Misclassified (2)');
    expect(md).toContain('- `male/7.jpg`: unreadable: male/7.jpg: not a readable image');
  });

  it('skips the learning curves with a note when the manifest has no history', async () => {
    const dir = tempDir();
    const written = await writeReport(evaluation, { dir, manifest, dataset: 'faces/test' });
    expect(existsSync(join(dir, 'learning-curves.png'))).toBe(false);
    expect(written.notes).toHaveLength(1);
    expect(written.notes[0]).toContain('no training history');
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('> learning-curves.png skipped');
  });
});

describe('learningCurvesSvg', () => {
  const history = [1, 2, 3].map((epoch) => ({
    epoch,
    train_loss: 1 / epoch,
    val_loss: 1.1 / epoch,
    train_acc: 0.8,
    val_acc: 0.9,
  }));

  it('names the validation curves "val" by default and as the caller says for a model trained on val', () => {
    const heldOut = learningCurvesSvg(history, 'm');
    expect(heldOut).toContain('>val acc<');
    expect(heldOut).not.toContain('trained on');
    const folded = learningCurvesSvg(history, 'm', 'val (trained on)');
    expect(folded).toContain('>val (trained on) acc<');
    expect(folded).toContain('>val (trained on) loss<');
  });
});

describe('escapeXml', () => {
  it('escapes the five XML specials so labels cannot break the SVG', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
  });
});
