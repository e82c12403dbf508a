/**
 * The runtime side of the preprocessing contract (DESIGN convention 11), against the golden crops
 * that train/tests/test_golden_preprocess.py checks on the training side.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fillClassifierInput } from '../../src/inference/preprocess.js';
import type { TensorInfo } from '../../src/inference/tensor-info.js';
import { alignFace, DEFAULT_ALIGNMENT } from '../../src/vision/align-face.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { DetectedFace } from '../../src/vision/face.js';

const GOLDEN = join(import.meta.dirname, '../fixtures/golden');
const ROOT = join(import.meta.dirname, '../..');

interface Sample {
  y: number;
  x: number;
  c: number;
  value: number;
}
interface GoldenCrop {
  name: string;
  file: string;
  source: { scene: string; frame: number };
  face: DetectedFace;
  rgb_sha256: string;
  pixel_sum: number;
  float_input: { sum: number; samples: Sample[] };
  int8_input: { sum: number; samples: Sample[] };
}
const golden = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as {
  alignment: typeof DEFAULT_ALIGNMENT;
  crops: GoldenCrop[];
};

const SIZE = DEFAULT_ALIGNMENT.size;
const shape = [1, SIZE, SIZE, 3];
const floatInput: TensorInfo = {
  name: 'input',
  dtype: 'float32',
  shape,
  byteSize: SIZE * SIZE * 12,
  quantization: null,
};
const int8Input: TensorInfo = {
  name: 'input',
  dtype: 'int8',
  shape,
  byteSize: SIZE * SIZE * 3,
  quantization: { scale: 1 / 128, zeroPoint: 0 },
};
const at = (s: Sample) => (s.y * SIZE + s.x) * 3 + s.c;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function cropPixels(file: string): Promise<Buffer> {
  const { data, info } = await sharp(join(GOLDEN, file)).raw().toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([SIZE, SIZE, 3]);
  return data;
}

describe('golden preprocessing contract (runtime side)', () => {
  it('holds three crops and the aligner geometry the runtime uses', () => {
    expect(golden.crops.map((c) => c.name)).toHaveLength(3);
    expect(golden.alignment).toEqual(DEFAULT_ALIGNMENT);
  });

  for (const crop of golden.crops) {
    it(`${crop.name}: PNG pixels, float input and int8 input match golden.json`, async () => {
      const pixels = await cropPixels(crop.file);
      expect(sha256(pixels)).toBe(crop.rgb_sha256);

      const asFloat = new Float32Array(pixels.length);
      fillClassifierInput(pixels, floatInput, asFloat);
      // Every value is k/128: exact in float32, and so is their float64 sum.
      expect(asFloat.reduce((s, v) => s + v, 0)).toBe(crop.float_input.sum);
      for (const s of crop.float_input.samples)
        expect(asFloat[at(s)], `float at y${s.y} x${s.x} c${s.c}`).toBe(s.value);

      const asInt8 = new Int8Array(pixels.length);
      fillClassifierInput(pixels, int8Input, asInt8);
      expect(asInt8.reduce((s, v) => s + v, 0)).toBe(crop.int8_input.sum);
      for (const s of crop.int8_input.samples) expect(asInt8[at(s)], `int8 at y${s.y} x${s.x} c${s.c}`).toBe(s.value);
    });
  }

  it('the int8 input equals the float input quantized with scale 1/128, zero point 0', async () => {
    const pixels = await cropPixels(golden.crops[0].file);
    const asFloat = new Float32Array(pixels.length);
    const asInt8 = new Int8Array(pixels.length);
    fillClassifierInput(pixels, floatInput, asFloat);
    fillClassifierInput(pixels, int8Input, asInt8);
    for (let i = 0; i < pixels.length; i++) expect(asInt8[i]).toBe(Math.round(asFloat[i] * 128));
  });

  // Sources whose first frame is the golden one: decodeImage reads first frames only.
  for (const crop of golden.crops.filter((c) => c.source.frame === 0)) {
    it(`${crop.name}: re-aligning the source from the stored face reproduces the crop byte for byte`, async () => {
      const image = await decodeImage(readFileSync(join(ROOT, crop.source.scene)), crop.source.scene);
      const aligned = alignFace(image, crop.face);
      expect(sha256(aligned)).toBe(crop.rgb_sha256);
    });
  }
});
