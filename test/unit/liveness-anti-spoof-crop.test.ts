/**
 * The anti-spoofing crop against the golden crops that train/tests/test_liveness_crop.py checks on the Python
 * side (the crop the MiniFASNet models were trained on, from a BlazeFace box).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  antiSpoofCrop,
  publisherBox,
  publisherCropBounds,
  type AntiSpoofCropGeometry,
} from '../../src/liveness/anti-spoof-crop.js';
import { decodeImage } from '../../src/capture/decode-image.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/liveness');
const golden = JSON.parse(readFileSync(join(FIXTURES, 'golden-crops.json'), 'utf8')) as {
  source: string;
  size: number;
  box_map: { centre_x: number; centre_y: number; width: number; height: number };
  cases: { name: string; box: [number, number, number, number]; scale: number; bounds: number[]; rgb_sha256: string }[];
};
const boxMap = {
  centreX: golden.box_map.centre_x,
  centreY: golden.box_map.centre_y,
  width: golden.box_map.width,
  height: golden.box_map.height,
};

describe('antiSpoofCrop', () => {
  it('reproduces the golden crops byte for byte', async () => {
    const image = await decodeImage(readFileSync(join(FIXTURES, golden.source)), golden.source);
    for (const c of golden.cases) {
      const [x, y, width, height] = c.box;
      const geometry: AntiSpoofCropGeometry = { size: golden.size, scale: c.scale, boxMap };
      const b = publisherCropBounds(image.width, image.height, publisherBox({ x, y, width, height }, boxMap), c.scale);
      expect([b.left, b.top, b.right, b.bottom], c.name).toEqual(c.bounds);
      const crop = antiSpoofCrop(image, { x, y, width, height }, geometry);
      expect(createHash('sha256').update(crop).digest('hex'), c.name).toBe(c.rgb_sha256);
      const png = await sharp(join(FIXTURES, `${c.name}.png`))
        .removeAlpha()
        .raw()
        .toBuffer();
      expect(crop.equals(png), c.name).toBe(true);
    }
  });

  it('shrinks a crop that cannot fit and shifts it inside the image', () => {
    expect(publisherCropBounds(640, 480, { x: 250, y: 150, width: 100, height: 100 }, 2)).toEqual({
      left: 200,
      top: 100,
      right: 400,
      bottom: 300,
    });
    const b = publisherCropBounds(640, 480, { x: 250, y: 10, width: 100, height: 100 }, 8);
    expect([b.top, b.bottom, b.right - b.left]).toEqual([0, 479, 479]);
    expect(publisherCropBounds(640, 480, { x: 580, y: 200, width: 50, height: 50 }, 2)).toEqual({
      left: 539,
      top: 175,
      right: 639,
      bottom: 275,
    });
  });

  it('never reads outside the image, whatever the box', () => {
    const image = { kind: 'rgb' as const, width: 37, height: 23, data: Buffer.alloc(37 * 23 * 3, 200) };
    for (const box of [
      { x: -500, y: -500, width: 20, height: 20 },
      { x: 30, y: 20, width: 400, height: 400 },
      { x: 5, y: 5, width: 0.5, height: 0.5 },
    ]) {
      const crop = antiSpoofCrop(image, box, { size: 80, scale: 4, boxMap });
      expect(crop.length).toBe(80 * 80 * 3);
      expect(crop.every((v) => v === 200)).toBe(true);
    }
  });
});
