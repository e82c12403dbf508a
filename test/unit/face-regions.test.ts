/**
 * Aligning a face from a decode of only its region must give exactly the crop that aligning it in the
 * fully decoded frame gives: faces in the middle, across every edge, turned, several at once, with both
 * paddings, and when the region is so large that the whole frame is decoded instead.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { alignFace, cropGeometry, type CropPadding } from '../../src/vision/align-face.js';
import { alignmentRegion, decodeForDetection } from '../../src/vision/decode-for-detection.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import type { DetectedFace } from '../../src/vision/face.js';
import { alignInRegion, regionForCrops } from '../../src/vision/face-regions.js';

const WIDTH = 1280;
const HEIGHT = 720;

/** A frame with texture everywhere (so any misplaced pixel shows), as a camera JPEG. */
async function texturedFrame(): Promise<Buffer> {
  const px = Buffer.alloc(WIDTH * HEIGHT * 3);
  let s = 12345;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const o = (y * WIDTH + x) * 3;
      px[o] = (x * 7 + (s >>> 24)) & 255;
      px[o + 1] = (y * 5 + (s >>> 16)) & 255;
      px[o + 2] = ((x ^ y) + (s >>> 8)) & 255;
    }
  }
  return sharp(px, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** A face with eyes `eyeDistance` apart around (cx, cy), turned by `degrees`. */
function face(cx: number, cy: number, eyeDistance: number, degrees = 0): DetectedFace {
  const a = (degrees * Math.PI) / 180;
  const dx = (Math.cos(a) * eyeDistance) / 2;
  const dy = (Math.sin(a) * eyeDistance) / 2;
  const size = eyeDistance * 2.4;
  const p = (x: number, y: number) => ({ x, y });
  return {
    box: { x: cx - size / 2, y: cy - size / 2, width: size, height: size },
    keypoints: {
      rightEye: p(cx - dx, cy - dy),
      leftEye: p(cx + dx, cy + dy),
      noseTip: p(cx, cy + eyeDistance * 0.4),
      mouth: p(cx, cy + eyeDistance * 0.8),
      rightEar: p(cx - eyeDistance, cy),
      leftEar: p(cx + eyeDistance, cy),
    },
    score: 0.9,
  };
}

const jpeg = await texturedFrame();
const full = await decodeImage(jpeg, 'frame');
const reduced = await decodeForDetection(jpeg, 'frame', { inputSize: 192 });

describe('aligning from a region decode', () => {
  it('the detector decode is reduced, so the aligner needs a decode of its own', () => {
    expect(reduced.fullResolution).toBe(false);
    expect(reduced.image.width).toBeLessThan(WIDTH / 2);
  });

  const cases: [string, DetectedFace[]][] = [
    ['a face in the middle', [face(640, 360, 40)]],
    ['a face across the left edge', [face(20, 300, 50)]],
    ['a face across the top-right corner', [face(1265, 12, 45, 12)]],
    ['a turned face across the bottom edge', [face(400, 705, 60, -30)]],
    ['two faces at once', [face(300, 200, 30), face(900, 500, 35, 8)]],
    ['a face so large the whole frame is decoded', [face(640, 360, 250)]],
  ];
  for (const padding of ['mirror', 'edge'] as CropPadding[]) {
    for (const [name, faces] of cases) {
      it(`${name} (${padding} padding): the same crop as from the full frame`, async () => {
        const alignment = { size: 64, padding };
        const geometries = faces.map((f) => cropGeometry(f, alignment));
        const region = await alignmentRegion(reduced, geometries);
        for (let i = 0; i < faces.length; i++) {
          expect(alignInRegion(region, geometries[i], alignment).equals(alignFace(full, faces[i], alignment))).toBe(
            true,
          );
        }
      });
    }
  }

  it('decodes only a small part of the frame for one ordinary face', async () => {
    const geometry = cropGeometry(face(640, 360, 40));
    const region = await alignmentRegion(reduced, [geometry]);
    expect(region.image.width * region.image.height).toBeLessThan(0.05 * WIDTH * HEIGHT);
    expect(region).toMatchObject({ frameWidth: WIDTH, frameHeight: HEIGHT });
    expect(regionForCrops([geometry], WIDTH, HEIGHT)).toEqual({
      left: region.left,
      top: region.top,
      width: region.image.width,
      height: region.image.height,
    });
  });
});
