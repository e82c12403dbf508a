/**
 * Regenerates test/fixtures/golden/: three 64×64 crops made by the project's own detector and
 * aligner from the redistributable scenes (astronaut.png, public domain; two frames of Intel's
 * CC BY 4.0 head-pose GIF), and golden.json with what the preprocessing contract must turn them
 * into. Both test suites (vitest and pytest) check against these files, so training and serving
 * cannot drift apart silently.
 *
 *   npx tsx scripts/make-golden-fixtures.ts
 *
 * Run it only when the aligner or the contract changes on purpose, and review the crops.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { RgbImage } from '../src/capture/frame.js';
import { alignFace, DEFAULT_ALIGNMENT } from '../src/vision/align-face.js';
import { decodeImage } from '../src/capture/decode-image.js';
import type { DetectedFace } from '../src/vision/face.js';
import { FaceDetector } from '../src/inference/face-detector.js';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const scenes = join(root, 'test/fixtures/scenes');
const out = join(root, 'test/fixtures/golden');

interface Source {
  readonly name: string;
  readonly scene: string;
  /** Animation frame (GIF page), 0-based. */
  readonly frame: number;
  /** Which face when the frame holds several: the one whose box centre is nearest this x (px). */
  readonly nearX?: number;
}

const SOURCES: readonly Source[] = [
  { name: 'astronaut', scene: 'astronaut.png', frame: 0 },
  { name: 'head-pose-f000-left', scene: 'head-pose-face-detection-female-and-male.gif', frame: 0, nearX: 100 },
  { name: 'head-pose-f030-right', scene: 'head-pose-face-detection-female-and-male.gif', frame: 30, nearX: 340 },
];

/** (y, x, channel) positions sampled into golden.json: corners, centre and a few inner points. */
const SAMPLES: readonly (readonly [number, number, number])[] = [
  [0, 0, 0],
  [0, 63, 2],
  [63, 0, 1],
  [63, 63, 2],
  [32, 32, 0],
  [32, 32, 1],
  [32, 32, 2],
  [20, 40, 1],
  [45, 17, 2],
  [10, 50, 0],
  [50, 10, 1],
];

async function frameOf(source: Source): Promise<RgbImage> {
  const bytes = await readFile(join(scenes, source.scene));
  if (source.frame === 0) return decodeImage(bytes, source.scene);
  // decodeImage reads the first frame only; libvips composes later GIF frames for `page`.
  const { data, info } = await sharp(bytes, { page: source.frame })
    .flatten({ background: '#000' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { kind: 'rgb', data, width: info.width, height: info.height };
}

function pick(faces: DetectedFace[], source: Source): DetectedFace {
  if (faces.length === 0) throw new Error(`${source.name}: no face found`);
  if (source.nearX === undefined) return faces[0];
  const distance = (f: DetectedFace) => Math.abs(f.box.x + f.box.width / 2 - (source.nearX as number));
  return [...faces].sort((a, b) => distance(a) - distance(b))[0];
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

function roundFace(face: DetectedFace): DetectedFace {
  const p = (q: { x: number; y: number }) => ({ x: round(q.x), y: round(q.y) });
  const k = face.keypoints;
  return {
    box: { x: round(face.box.x), y: round(face.box.y), width: round(face.box.width), height: round(face.box.height) },
    keypoints: {
      rightEye: p(k.rightEye),
      leftEye: p(k.leftEye),
      noseTip: p(k.noseTip),
      mouth: p(k.mouth),
      rightEar: p(k.rightEar),
      leftEar: p(k.leftEar),
    },
    score: round(face.score),
  };
}

function describeCrop(crop: Buffer) {
  const size = DEFAULT_ALIGNMENT.size;
  const at = (y: number, x: number, c: number) => crop[(y * size + x) * 3 + c];
  let pixelSum = 0;
  for (const v of crop) pixelSum += v;
  const n = crop.length;
  return {
    rgb_sha256: createHash('sha256').update(crop).digest('hex'),
    pixel_sum: pixelSum,
    // (pixel − 128) / 128 and pixel − 128 are exact in float32/int8, so their sums are exact too.
    float_input: {
      sum: (pixelSum - 128 * n) / 128,
      samples: SAMPLES.map(([y, x, c]) => ({ y, x, c, value: (at(y, x, c) - 128) / 128 })),
    },
    int8_input: {
      sum: pixelSum - 128 * n,
      samples: SAMPLES.map(([y, x, c]) => ({ y, x, c, value: at(y, x, c) - 128 })),
    },
  };
}

const detector = await FaceDetector.create({ model: 'short' });
const crops = [];
try {
  await mkdir(out, { recursive: true });
  for (const source of SOURCES) {
    const image = await frameOf(source);
    const face = roundFace(pick(await detector.detect(image), source));
    // Align from the rounded face stored in golden.json, so the test can redo exactly this.
    const crop = alignFace(image, face);
    const file = `${source.name}.png`;
    const size = DEFAULT_ALIGNMENT.size;
    await writeFile(
      join(out, file),
      await sharp(crop, { raw: { width: size, height: size, channels: 3 } })
        .png({ compressionLevel: 9 })
        .toBuffer(),
    );
    crops.push({
      name: source.name,
      file,
      source: { scene: `test/fixtures/scenes/${source.scene}`, frame: source.frame },
      face,
      ...describeCrop(crop),
    });
  }
} finally {
  await detector.close();
}
const golden = {
  contract: {
    crop: `${DEFAULT_ALIGNMENT.size}x${DEFAULT_ALIGNMENT.size}x3 RGB uint8, HWC`,
    float_input: '(pixel - 128) / 128, float32',
    int8_input: 'pixel - 128, int8 (scale 1/128, zero point 0)',
  },
  alignment: DEFAULT_ALIGNMENT,
  crops,
};
await writeFile(join(out, 'golden.json'), `${JSON.stringify(golden, null, 2)}\n`);
console.log(`wrote ${crops.length} crops and golden.json to ${out}`);
