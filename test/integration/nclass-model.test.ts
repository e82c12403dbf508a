/**
 * A model of three labels end to end on the TypeScript side: exported at test time by the project's
 * own exporter (test/fixtures/nclass/export_tiny_nclass.py, Debian's /usr/bin/python3 with torch), then
 * loaded, self-tested, classified, decided with its unsure floor, and evaluated by `faceedge classify`
 * and `faceedge eval`. Skips with the reason when torch or the TFLite runtime is absent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, softmax } from '../../src/classification/classification.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { runModelSelfTest } from '../../src/model-push/model-selftest.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO_ROOT, 'test/fixtures/nclass/export_tiny_nclass.py');
const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const PHOTOS = [
  ASTRONAUT,
  join(REPO_ROOT, 'test/fixtures/golden/head-pose-f000-left.png'),
  join(REPO_ROOT, 'test/fixtures/golden/head-pose-f030-right.png'),
];
const LABELS = ['0-12', '13-19', '20+'];

function torchMissing(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} is absent`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch, numpy, PIL'], { encoding: 'utf8' });
  return probe.status === 0 ? null : `${PYTHON} has no torch: ${probe.stderr.trim().split('\n').at(-1)}`;
}

const SKIP = torchMissing();
if (SKIP) console.warn(`nclass-model tests skipped: ${SKIP}`);

describe.skipIf(SKIP !== null)('a three-label model through the TypeScript side', () => {
  let dir = '';
  let modelDir = '';
  const int8 = () => join(modelDir, 'bands_int8.tflite');
  const manifestOf = () => JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;

  /** A copy of the model folder whose manifest has `changes` applied. */
  function variant(name: string, changes: Record<string, unknown>): string {
    const to = join(dir, name);
    mkdirSync(to);
    for (const f of readdirSync(modelDir)) copyFileSync(join(modelDir, f), join(to, f));
    writeFileSync(join(to, 'manifest.json'), JSON.stringify({ ...manifestOf(), ...changes }));
    return join(to, 'bands_int8.tflite');
  }

  async function valCrops(count: number): Promise<Uint8Array[]> {
    const crops: Uint8Array[] = [];
    for (const label of LABELS) {
      const folder = join(dir, 'out/crops/val', label);
      for (const f of readdirSync(folder).slice(0, count)) {
        const { data } = await sharp(join(folder, f)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        crops.push(new Uint8Array(data));
      }
    }
    return crops;
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-nclass-'));
    execFileSync(PYTHON, [SCRIPT, join(dir, 'out')], { stdio: 'pipe', timeout: 300_000 });
    modelDir = join(dir, 'out/model');
  }, 320_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the manifest round trip: labels, temperature, unsure floor, one logit per label; both files self-test', async () => {
    const m = manifestOf();
    expect(m.labels).toEqual(LABELS);
    expect(m.output).toMatchObject({ kind: 'logits', activation: 'softmax', shape: [1, 3] });
    for (const file of ['bands_int8.tflite', 'bands_float32.tflite']) {
      const result = await runModelSelfTest(join(modelDir, file), join(modelDir, 'manifest.json'));
      expect(result.cases).toBeGreaterThan(0);
    }
  });

  it('gives every label softmax(logits / temperature) and decides by the largest', async () => {
    const classifier = await FaceClassifier.create({ modelPath: int8() });
    try {
      expect(classifier.labels).toEqual(LABELS);
      const temperature = manifestOf().temperature as number;
      for (const crop of await valCrops(3)) {
        const c = classifier.classifySync(crop);
        expect(c.probabilities).toHaveLength(3);
        expect(c.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
        const expected = softmax((c.logits ?? []).map((z) => z / temperature));
        c.probabilities.forEach((p, i) => expect(p).toBeCloseTo(expected[i], 12));
        expect(c.label).toBe(LABELS[c.probabilities.indexOf(Math.max(...c.probabilities))]);
      }
    } finally {
      await classifier.close();
    }
  });

  it('says unknown below the unsure floor', async () => {
    const classifier = await FaceClassifier.create({ modelPath: variant('unsure', { unsure_floor: 0.999 }) });
    try {
      const results = (await valCrops(3)).map((crop) => classifier.classifySync(crop));
      for (const r of results) expect(r.label).toBe(r.confidence < 0.999 ? 'unknown' : LABELS[argmax(r.probabilities)]);
      expect(results.some((r) => r.label === 'unknown')).toBe(true);
    } finally {
      await classifier.close();
    }
  });

  it('refuses a threshold on three labels, and a self-test that the model does not reproduce', async () => {
    await expect(FaceClassifier.create({ modelPath: variant('threshold', { threshold: 0.5 }) })).rejects.toThrow(
      /threshold applies to two labels only/,
    );
    const selftest = (manifestOf().selftest as { expected_int8_logits: number[] }[]).map((c) => ({
      ...c,
      expected_int8_logits: c.expected_int8_logits.map((v, i) => (i === 0 ? v + 1 : v)),
    }));
    await expect(runModelSelfTest(variant('broken', { selftest }), join(dir, 'broken/manifest.json'))).rejects.toThrow(
      /self-test case 0 gave logit of 0-12/,
    );
  });

  it('model calibrate refuses a model of three labels with the way it is calibrated instead', async () => {
    const r = await runCli(['model', 'calibrate', int8(), dir], { timeoutMs: 120_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/3 labels \(0-12, 13-19, 20\+\): a decision threshold is for two labels only/);
  });

  it('classify --json prints the probability of every label', async () => {
    const r = await runCli(['classify', '--json', '--model', int8(), ASTRONAUT], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const [face] = (
      JSON.parse(r.stdout.trim()) as { faces: { probabilities: Record<string, number>; class: string }[] }
    ).faces;
    expect(Object.keys(face.probabilities)).toEqual(LABELS);
    expect(Object.values(face.probabilities).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    expect([...LABELS, 'unknown']).toContain(face.class);
  });

  it('eval reports the N×N matrix, macro recall, ECE and steps off', async () => {
    // Three face photos of the repo's fixtures in every label folder: nine images, real faces, known truth.
    const folder = join(dir, 'eval');
    for (const label of LABELS) {
      mkdirSync(join(folder, label), { recursive: true });
      for (const photo of PHOTOS) copyFileSync(photo, join(folder, label, basename(photo)));
    }
    const r = await runCli(['eval', '--json', '--model', int8(), folder, '--report', join(dir, 'report')], {
      timeoutMs: 180_000,
    });
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout.trim()) as {
      n: number;
      detected: number;
      accuracy: number;
      recall: Record<string, number | null>;
      confusion: Record<string, Record<string, number>>;
      macro_recall: number;
      ece: number;
      off_by_more_than_one: number;
      unsure: { floor: number; answered: number };
      roc_auc: null;
    };
    expect(s.n).toBe(9);
    expect(Object.keys(s.confusion)).toEqual(LABELS);
    for (const t of LABELS) expect(Object.keys(s.confusion[t])).toEqual(LABELS);
    const cells = LABELS.flatMap((t) => LABELS.map((p) => s.confusion[t][p]));
    expect(cells.reduce((a, b) => a + b, 0)).toBe(s.detected);
    const recalls = Object.values(s.recall).filter((v): v is number => v !== null);
    expect(s.macro_recall).toBeCloseTo(recalls.reduce((a, b) => a + b, 0) / recalls.length, 12);
    const far = s.confusion['0-12']['20+'] + s.confusion['20+']['0-12'];
    expect(s.off_by_more_than_one).toBeCloseTo(far / s.detected, 12);
    expect(s.ece).toBeGreaterThanOrEqual(0);
    expect(s.ece).toBeLessThanOrEqual(1);
    expect(s.roc_auc).toBeNull();
    const md = readFileSync(join(dir, 'report/report.md'), 'utf8');
    expect(md).toContain('| true \\ predicted | 0-12 | 13-19 | 20+ |');
    expect(md).toContain('off by more than one step');
    expect(existsSync(join(dir, 'report/roc.png'))).toBe(false);
  });
});
