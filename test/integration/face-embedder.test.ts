/**
 * The shipped face embedder (models/face-embed/) through the real TFLite runtime: its golden self-test,
 * test-time flip averaging, concurrent callers, real CelebA faces from faces-dev (same person closer
 * than two different people), and `faceedge faces verify` on a small pairs CSV. The faces-dev parts
 * skip, saying why, where /work/shared/data/faces-dev is absent.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/capture/decode-image.js';
import { mirrorCrop } from '../../src/inference/face-classifier.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { cosineSimilarity, FaceEmbedder, l2Normalize } from '../../src/inference/face-embedder.js';
import { shippedEmbedderPath } from '../../src/cli/commands/faces-verify.js';
import { rocAuc } from '../../src/recognition/verification-metrics.js';
import { decodeForDetection, detectFaces, fullResolutionImage } from '../../src/vision/decode-for-detection.js';
import { primaryFace } from '../../src/vision/primary-face.js';
import { runCli } from '../helpers/run-cli.js';

const MODEL = shippedEmbedderPath();
const FACES_DEV = process.env.FACEEDGE_FACES_DEV ?? '/work/shared/data/faces-dev';
const VAL = join(FACES_DEV, 'val');
const NO_FACES_DEV = existsSync(VAL) ? null : `faces-dev not found at ${VAL} (set FACEEDGE_FACES_DEV)`;
/** People taken from faces-dev/val (file names are <identity>_<celeba id>.jpg, two photos each). */
const PEOPLE = 12;

/** The first `count` identities of faces-dev/val with two photos: [identity, [path, path]]. */
async function facesDevPeople(count: number): Promise<[string, string[]][]> {
  const byIdentity = new Map<string, string[]>();
  for (const label of (await readdir(VAL)).sort()) {
    for (const name of (await readdir(join(VAL, label))).sort()) {
      const id = `${label}/${name.split('_')[0]}`;
      byIdentity.set(id, [...(byIdentity.get(id) ?? []), join(VAL, label, name)]);
    }
  }
  return [...byIdentity].filter(([, paths]) => paths.length >= 2).slice(0, count);
}

let embedder: FaceEmbedder;
let plain: FaceEmbedder;
beforeAll(async () => {
  embedder = await FaceEmbedder.create({ modelPath: MODEL });
  plain = await FaceEmbedder.create({ modelPath: MODEL, flipAverage: false });
});
afterAll(async () => {
  await embedder.close();
  await plain.close();
});

async function selftestCrops() {
  return Promise.all(
    (embedder.manifest.selftest ?? []).map(async (t, k) => ({
      crop: (await decodeImage(Buffer.from(t.png_base64, 'base64'), `selftest ${k}`)).data,
      expected: Float32Array.from(t.expected_embedding),
      minCosine: t.min_cosine ?? 0.98,
    })),
  );
}

describe('the shipped face embedder', () => {
  it('loads with its manifest: 128-D cosine, the alignment, a threshold chosen for a stated FAR, flip on', () => {
    expect(embedder.manifest.task).toBe('face-embedding');
    expect(embedder.dimensions).toBe(128);
    expect(embedder.inputSize).toBe(embedder.manifest.alignment.size);
    expect(embedder.far).toBeGreaterThan(0);
    expect(embedder.far).toBeLessThanOrEqual(0.01);
    expect(embedder.manifest.recognition.chosen_on).toBeTruthy();
    expect(embedder.flipAverage).toBe(true);
    expect(embedder.delegate.active).toBe('xnnpack');
  });

  it('passes its golden self-test: each crop within min_cosine of the float network’s embedding', async () => {
    const cases = await selftestCrops();
    expect(cases.length).toBeGreaterThanOrEqual(2);
    for (const { crop, expected, minCosine } of cases) {
      const got = plain.embedCropSync(crop);
      expect(got).toHaveLength(expected.length);
      expect(cosineSimilarity(got, l2Normalize(expected))).toBeGreaterThanOrEqual(minCosine);
    }
  });

  it('averages a crop with its mirror image: the embedding of a face and of its mirror are the same', async () => {
    const [{ crop }] = await selftestCrops();
    const mirrored = mirrorCrop(crop, embedder.inputSize);
    const a = await embedder.embedCrop(crop);
    const b = await embedder.embedCrop(mirrored);
    expect(cosineSimilarity(a, b)).toBeGreaterThan(0.99999);
    const mean = l2Normalize(plain.embedCropSync(crop).map((v, i) => v + plain.embedCropSync(mirrored)[i]));
    expect(cosineSimilarity(a, mean)).toBeGreaterThan(0.99999);
    // without averaging, a face and its mirror differ (else the test above proves nothing)
    expect(cosineSimilarity(plain.embedCropSync(crop), plain.embedCropSync(mirrored))).toBeLessThan(0.9999);
  });

  it('gives every concurrent caller its own embedding', async () => {
    const crops = (await selftestCrops()).map((c) => c.crop);
    const sequential = crops.map((c) => embedder.embedCropSync(c));
    const concurrent = await Promise.all([...crops, ...crops].map((c) => embedder.embedCrop(c)));
    concurrent.forEach((e, i) => expect(cosineSimilarity(e, sequential[i % crops.length])).toBeCloseTo(1, 6));
  });
});

describe.skipIf(NO_FACES_DEV)(`the embedder on real faces (${NO_FACES_DEV ?? 'faces-dev'})`, () => {
  let scratch: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'faceedge-embed-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  it('puts two photos of one person closer than photos of two different people', async () => {
    const detector = await FaceDetector.create({ model: 'short' });
    try {
      const people = await facesDevPeople(PEOPLE);
      expect(people).toHaveLength(PEOPLE);
      const embed = async (path: string) => {
        const decoded = await decodeForDetection(await readFile(path), path, { inputSize: detector.inputSize });
        const pick = primaryFace(await detectFaces(detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
        expect(pick.face, path).toBeTruthy();
        return embedder.embed(await fullResolutionImage(decoded), pick.face!);
      };
      const embeddings = await Promise.all(people.map(async ([, paths]) => Promise.all(paths.slice(0, 2).map(embed))));
      const same = embeddings.map(([a, b]) => cosineSimilarity(a, b));
      const different = embeddings.flatMap(([a], i) =>
        embeddings.filter((_, j) => j > i).map(([, b]) => cosineSimilarity(a, b)),
      );
      const scored = [
        ...same.map((score) => ({ same: true, score, fold: null })),
        ...different.map((score) => ({ same: false, score, fold: null })),
      ];
      const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
      expect(mean(same)).toBeGreaterThan(mean(different) + 0.03);
      expect(rocAuc(scored)).toBeGreaterThan(0.9);
    } finally {
      await detector.close();
    }
  }, 120_000);

  it('faces verify scores a small pairs CSV through the board path and reports the model it used', async () => {
    const people = await facesDevPeople(8);
    const rows = people.map(([, [a, b]]) => `${a},${b},1`);
    for (let i = 0; i < people.length; i++) rows.push(`${people[i][1][0]},${people[(i + 1) % people.length][1][1]},0`);
    const csv = join(scratch, 'pairs.csv');
    await writeFile(csv, ['path_a,path_b,same', ...rows].join('\n') + '\n');
    const result = await runCli(['faces', 'verify', csv, '--json'], { timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as {
      pairs: number;
      accuracy: number;
      missing_faces: number;
      model: { sha256: string; flip_average: boolean };
      at_model_threshold: { tar: number; far: number };
    };
    expect(summary.pairs).toBe(16);
    expect(summary.missing_faces).toBe(0);
    expect(summary.accuracy).toBeGreaterThanOrEqual(0.8);
    expect(summary.model.sha256).toBe(embedder.sha256);
    expect(summary.model.flip_average).toBe(true);
    expect(summary.at_model_threshold.far).toBeLessThanOrEqual(0.25);
  }, 150_000);
});
