import { describe, expect, it } from 'vitest';
import type { RgbImage } from '../../src/capture/frame.js';
import {
  alignFace,
  cropGeometry,
  cropOutsideFraction,
  DEFAULT_ALIGNMENT,
  recordedAlignment,
  resampleCrop,
} from '../../src/vision/align-face.js';
import type { DetectedFace, Point } from '../../src/vision/face.js';

const SIZE = DEFAULT_ALIGNMENT.size;
const SIDE = DEFAULT_ALIGNMENT.sideInEyeDistances;
const BELOW = DEFAULT_ALIGNMENT.centreBelowEyes;

/** A grey image with a red disc on the subject's right eye and a blue one on the left eye. */
function eyesImage(width: number, height: number, rightEye: Point, leftEye: Point, radius: number): RgbImage {
  const data = Buffer.alloc(width * height * 3, 128);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      // Pixel (x, y) covers [x, x+1) × [y, y+1), its centre is (x + 0.5, y + 0.5), as in the aligner.
      const inside = (p: Point) => (x + 0.5 - p.x) ** 2 + (y + 0.5 - p.y) ** 2 <= radius ** 2;
      if (inside(rightEye)) data.set([255, 0, 0], i);
      else if (inside(leftEye)) data.set([0, 0, 255], i);
    }
  }
  return { kind: 'rgb', data, width, height };
}

function face(rightEye: Point, leftEye: Point, boxWidth: number): DetectedFace {
  const c = { x: (rightEye.x + leftEye.x) / 2, y: (rightEye.y + leftEye.y) / 2 };
  return {
    box: { x: c.x - boxWidth / 2, y: c.y - boxWidth / 3, width: boxWidth, height: boxWidth },
    keypoints: { rightEye, leftEye, noseTip: c, mouth: c, rightEar: rightEye, leftEar: leftEye },
    score: 0.9,
  };
}

/** Centroid of a colour in the crop, in pixel-centre coordinates (pixel u spans [u, u+1)). */
function centroid(crop: Buffer, channel: 0 | 2): Point {
  let sx = 0;
  let sy = 0;
  let total = 0;
  for (let v = 0; v < SIZE; v++) {
    for (let u = 0; u < SIZE; u++) {
      const i = (v * SIZE + u) * 3;
      const w = Math.max(0, crop[i + channel] - crop[i + 1]); // excess over green: 0 on the grey background
      sx += w * (u + 0.5);
      sy += w * (v + 0.5);
      total += w;
    }
  }
  expect(total, 'eye visible in the crop').toBeGreaterThan(0);
  return { x: sx / total, y: sy / total };
}

describe('alignFace', () => {
  // Eyes 60 px apart horizontally and 30 px vertically: the eye line is tilted by atan(0.5) ≈ 26.6°.
  const rightEye = { x: 110, y: 130 };
  const leftEye = { x: 170, y: 160 };
  const eyeDistance = Math.hypot(60, 30);

  it('rotates the eye line level, centres it and scales it to 1/SIDE of the crop', () => {
    const crop = alignFace(eyesImage(300, 300, rightEye, leftEye, 6), face(rightEye, leftEye, 100));
    expect(crop.length).toBe(SIZE * SIZE * 3);
    const r = centroid(crop, 0);
    const l = centroid(crop, 2);
    expect(Math.abs(r.y - l.y)).toBeLessThan(0.05); // level
    expect(r.x).toBeLessThan(l.x); // the subject's right eye stays on the image's left
    // Crop side = SIDE eye distances → the eyes are 64 / SIDE px apart, centred horizontally,
    // BELOW eye distances (= BELOW · 64 / SIDE px) above the crop centre.
    const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThan(0.1);
    near(l.x - r.x, SIZE / SIDE);
    near((r.x + l.x) / 2, SIZE / 2);
    near((r.y + l.y) / 2, SIZE / 2 - (BELOW * SIZE) / SIDE);
  });

  it('gives the same framing whatever the face size in the source', () => {
    const double = (p: Point) => ({ x: 2 * p.x, y: 2 * p.y });
    const small = alignFace(eyesImage(300, 300, rightEye, leftEye, 6), face(rightEye, leftEye, 100));
    const big = alignFace(
      eyesImage(600, 600, double(rightEye), double(leftEye), 12),
      face(double(rightEye), double(leftEye), 200),
    );
    for (const channel of [0, 2] as const) {
      const a = centroid(small, channel);
      const b = centroid(big, channel);
      expect(Math.hypot(a.x - b.x, a.y - b.y)).toBeLessThan(0.1);
    }
  });

  it('uses the box instead of the eyes when the head is turned (eyes close together, box wide)', () => {
    const g = cropGeometry(face({ x: 140, y: 150 }, { x: 160, y: 150 }, 120));
    // 20 px between the eyes, but a 120 px box → scale = 120 / 2.4 = 50 px, side = SIDE · 50 px.
    expect(g.side).toBeCloseTo(SIDE * 50, 9);
    expect(g.angle).toBe(0);
    expect(g.centreX).toBeCloseTo(150, 9);
    expect(g.centreY).toBeCloseTo(150 + BELOW * 50, 9);
    const frontal = cropGeometry(face(rightEye, leftEye, 100));
    expect(frontal.side).toBeCloseTo(SIDE * eyeDistance, 9);
    expect(frontal.angle).toBeCloseTo(Math.atan2(30, 60), 12);
  });

  it('edge padding repeats edge pixels for a crop that reaches past the image border', () => {
    const image = eyesImage(40, 40, { x: 4, y: 6 }, { x: 14, y: 6 }, 2);
    const crop = alignFace(image, face({ x: 4, y: 6 }, { x: 14, y: 6 }, 20), { size: 32, padding: 'edge' });
    expect(crop.length).toBe(32 * 32 * 3);
    // The top-left corner of the crop lies outside the image: it repeats the grey corner pixel.
    expect([...crop.subarray(0, 3)]).toEqual([128, 128, 128]);
  });

  it('mirror padding (the default) reflects the image at its border', () => {
    // A horizontal ramp: column x has red = 10 * x. Left of the image the crop must see the ramp
    // reflected (rising again), not a flat copy of column 0.
    const width = 20;
    const data = Buffer.alloc(width * width * 3);
    for (let y = 0; y < width; y++) for (let x = 0; x < width; x++) data[(y * width + x) * 3] = 10 * x;
    const image = { kind: 'rgb' as const, data, width, height: width };
    const crop = { centreX: 0, centreY: 10, side: 20, angle: 0 };
    const mirrored = resampleCrop(image, crop, 20, 'mirror');
    const edged = resampleCrop(image, crop, 20, 'edge');
    const row = (c: Buffer) => Array.from({ length: 20 }, (_, u) => c[(10 * 20 + u) * 3]);
    // Output column u samples source x = u - 10 (pixel centres): reflected about x = 0.
    expect(row(mirrored)).toEqual(Array.from({ length: 20 }, (_, u) => 10 * Math.abs(u - 10)));
    expect(row(edged)).toEqual(Array.from({ length: 20 }, (_, u) => 10 * Math.max(0, u - 10)));
    expect(cropOutsideFraction(image, crop)).toBeCloseTo(0.5, 5);
    expect(cropOutsideFraction(image, { centreX: 10, centreY: 10, side: 20, angle: 0 })).toBe(0);
  });

  it('recordedAlignment: manifests without padding were made with edge padding', () => {
    expect(recordedAlignment(null)).toEqual({ ...DEFAULT_ALIGNMENT, padding: 'edge' });
    expect(recordedAlignment({ size: 64, sideInEyeDistances: 3, centreBelowEyes: 0.3 })).toEqual({
      size: 64,
      sideInEyeDistances: 3,
      centreBelowEyes: 0.3,
      padding: 'edge',
    });
    expect(recordedAlignment({ ...DEFAULT_ALIGNMENT, padding: 'mirror' }).padding).toBe('mirror');
  });
});
