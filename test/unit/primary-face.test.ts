import { describe, expect, it } from 'vitest';
import type { DetectedFace } from '../../src/vision/face.js';
import { primaryFace } from '../../src/vision/primary-face.js';

function face(x: number, y: number, side: number): DetectedFace {
  const p = { x: x + side / 2, y: y + side / 2 };
  return {
    box: { x, y, width: side, height: side },
    score: 0.9,
    keypoints: { rightEye: p, leftEye: p, noseTip: p, mouth: p, rightEar: p, leftEar: p },
  };
}

describe('primaryFace (640 x 480 photo)', () => {
  it('no face: says so', () => {
    expect(primaryFace([], 640, 480)).toEqual({ face: null, reason: 'no face' });
  });

  it('one face, or a much larger one: the largest, not crowded', () => {
    const big = face(10, 10, 200);
    expect(primaryFace([big], 640, 480)).toEqual({ face: big, crowded: false });
    // A central face under half the largest one's area does not compete.
    const smallCentral = face(300, 220, 60);
    expect(primaryFace([smallCentral, big], 640, 480)).toEqual({ face: big, crowded: false });
  });

  it('two faces nearly as large: the central, smaller one beats the off-centre larger one', () => {
    const offCentreLarger = face(0, 0, 160);
    const centralSmaller = face(260, 180, 130); // 66 % of the larger area, centred
    const pick = primaryFace([offCentreLarger, centralSmaller], 640, 480);
    expect(pick).toEqual({ face: centralSmaller, crowded: true });
    // The order of detections does not matter.
    expect(primaryFace([centralSmaller, offCentreLarger], 640, 480)).toEqual(pick);
  });

  it('the strict policy (training crops) skips images with two contenders', () => {
    expect(primaryFace([face(0, 0, 160), face(260, 180, 130)], 640, 480, { policy: 'strict' })).toEqual({
      face: null,
      reason: 'several faces',
    });
    const big = face(10, 10, 200);
    expect(primaryFace([big, face(300, 220, 60)], 640, 480, { policy: 'strict' })).toEqual({
      face: big,
      crowded: false,
    });
  });

  it('the share that makes a face "nearly as large" is configurable', () => {
    const larger = face(0, 0, 160);
    const central = face(260, 180, 100); // 39 % of the larger area
    expect(primaryFace([larger, central], 640, 480).face).toBe(larger);
    expect(primaryFace([larger, central], 640, 480, { nearlyAsLarge: 0.3 }).face).toBe(central);
  });
});
