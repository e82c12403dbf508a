import { describe, expect, it } from 'vitest';
import { FULL_RANGE_LAYOUT, SHORT_RANGE_LAYOUT, generateAnchors } from '../../src/inference/blazeface-anchors.js';
import {
  decodeDetections,
  weightedNonMaxSuppression,
  type RawDetection,
} from '../../src/inference/blazeface-decode.js';

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('BlazeFace anchors', () => {
  it('short range: 896 anchors, 2 per cell on the 16×16 grid then 6 per cell on the 8×8 grid', () => {
    const a = generateAnchors(SHORT_RANGE_LAYOUT);
    expect(a.length / 2).toBe(896);
    expect([a[0], a[1], a[2], a[3]]).toEqual([0.5 / 16, 0.5 / 16, 0.5 / 16, 0.5 / 16]);
    expect([a[4], a[5]]).toEqual([1.5 / 16, 0.5 / 16].map(Math.fround));
    // 16·16·2 = 512 anchors precede the coarse grid.
    expect([a[2 * 512], a[2 * 512 + 1]]).toEqual([0.5 / 8, 0.5 / 8]);
    for (let i = 512; i < 518; i++) expect([a[2 * i], a[2 * i + 1]]).toEqual([0.5 / 8, 0.5 / 8]);
    expect([a[2 * 895], a[2 * 895 + 1]]).toEqual([7.5 / 8, 7.5 / 8]);
  });

  it('full range: 2304 anchors, one per cell of a 48×48 grid, row-major', () => {
    const a = generateAnchors(FULL_RANGE_LAYOUT);
    expect(a.length / 2).toBe(2304);
    expect([a[0], a[1]]).toEqual([0.5 / 48, 0.5 / 48].map(Math.fround));
    expect([a[2 * 48], a[2 * 48 + 1]]).toEqual([0.5 / 48, 1.5 / 48].map(Math.fround));
    expect([a[2 * 2303], a[2 * 2303 + 1]]).toEqual([47.5 / 48, 47.5 / 48].map(Math.fround));
  });
});

describe('decodeDetections', () => {
  const anchors = Float32Array.from([0.5, 0.5, 0.25, 0.75]);
  const size = 128;

  function regressors(rows: number[][]): Float32Array {
    return Float32Array.from(rows.flatMap((r) => [...r, ...new Array(16 - r.length).fill(0)]));
  }

  it('decodes centre/size offsets (input pixels) against the anchor into a normalized box and keypoints', () => {
    // Anchor 0: centre moved by (+12.8, −6.4) px = (+0.1, −0.05), 32×64 px = 0.25×0.5; keypoint k at (k·6.4, −k·3.2) px.
    const row0 = [12.8, -6.4, 32, 64, ...Array.from({ length: 6 }, (_, k) => [k * 6.4, -k * 3.2]).flat()];
    const out = decodeDetections(regressors([row0, []]), Float32Array.from([2, -1]), anchors, size);
    expect(out).toHaveLength(1); // anchor 1 scores sigmoid(−1) < 0.5
    const [d] = out;
    const expected = [0.475, 0.2, 0.725, 0.7];
    d.box.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
    for (let k = 0; k < 6; k++) {
      expect(d.keypoints[2 * k]).toBeCloseTo(0.5 + k * 0.05, 6);
      expect(d.keypoints[2 * k + 1]).toBeCloseTo(0.5 - k * 0.025, 6);
    }
    expect(d.score).toBeCloseTo(sigmoid(2), 12);
  });

  it('keeps scores at the threshold, applies a custom threshold and clips extreme logits', () => {
    const scores = Float32Array.from([0, 1e6]);
    const out = decodeDetections(regressors([[], []]), scores, anchors, size);
    expect(out.map((d) => d.score)).toEqual([0.5, sigmoid(100)]);
    // Zero offsets: a zero-size box on the anchor centre.
    expect(out[1].box).toEqual([0.25, 0.75, 0.25, 0.75].map(Math.fround));
    expect(decodeDetections(regressors([[], []]), scores, anchors, size, 0.9)).toHaveLength(1);
  });
});

describe('weightedNonMaxSuppression', () => {
  const det = (box: RawDetection['box'], score: number, kp: number): RawDetection => ({
    box,
    score,
    keypoints: new Array(12).fill(kp),
  });

  it('merges overlapping candidates into their score-weighted mean and keeps the best score', () => {
    const merged = weightedNonMaxSuppression([
      det([0.1, 0.1, 1.1, 1.1], 0.6, 1),
      det([2, 2, 3, 3], 0.7, 5),
      det([0, 0, 1, 1], 0.9, 0),
    ]);
    expect(merged).toHaveLength(2);
    const [first, second] = merged;
    // (0.9·0 + 0.6·0.1) / 1.5 = 0.04, and likewise for every coordinate.
    [0.04, 0.04, 1.04, 1.04].forEach((v, i) => expect(first.box[i]).toBeCloseTo(v, 12));
    expect(first.keypoints.every((v) => Math.abs(v - 0.4) < 1e-12)).toBe(true);
    expect(first.score).toBe(0.9);
    // A cluster of one is itself (up to the rounding of (x·s)/s).
    [2, 2, 3, 3].forEach((v, i) => expect(second.box[i]).toBeCloseTo(v, 12));
    expect(second.score).toBe(0.7);
    expect(second.keypoints.every((v) => Math.abs(v - 5) < 1e-12)).toBe(true);
  });

  it('merges only above the IoU threshold', () => {
    // IoU of these two boxes = 0.5 / 1.5 = 1/3.
    const pair = [det([0, 0, 1, 1], 0.9, 0), det([0.5, 0, 1.5, 1], 0.8, 0)];
    expect(weightedNonMaxSuppression(pair, 0.3)).toHaveLength(1);
    expect(weightedNonMaxSuppression(pair, 0.4)).toHaveLength(2);
    expect(weightedNonMaxSuppression([])).toEqual([]);
  });
});
