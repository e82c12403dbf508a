import { describe, expect, it } from 'vitest';
import {
  accuracyAt,
  bestThreshold,
  rocAuc,
  summarizeVerification,
  tarAtFar,
  type ScoredPair,
} from '../../src/recognition/verification-metrics.js';

const pair = (same: boolean, score: number | null, fold: number | null = null): ScoredPair => ({ same, score, fold });

describe('verification metrics', () => {
  it('chooses the threshold in the widest gap between the classes and scores accuracy there', () => {
    const pairs = [pair(true, 0.9), pair(true, 0.7), pair(false, 0.3), pair(false, 0.1)];
    expect(bestThreshold(pairs)).toBeCloseTo(0.5);
    expect(accuracyAt(pairs, 0.5)).toBe(1);
    expect(accuracyAt(pairs, 0.8)).toBe(0.75);
  });

  it('counts a pair without a face as wrong, and never as accepted', () => {
    const pairs = [pair(true, 0.9), pair(true, null), pair(false, 0.1), pair(false, null)];
    expect(accuracyAt(pairs, 0.5)).toBe(0.5);
    const s = summarizeVerification(pairs);
    expect(s.missing_faces).toBe(2);
    expect(s.accuracy).toBe(0.5);
    expect(s.tar_at_far['0.01']).toBe(0.5);
  });

  it('gives the AUC of known rankings, ties counting half', () => {
    expect(rocAuc([pair(true, 0.9), pair(false, 0.1)])).toBe(1);
    expect(rocAuc([pair(true, 0.1), pair(false, 0.9)])).toBe(0);
    expect(rocAuc([pair(true, 0.5), pair(false, 0.5)])).toBe(0.5);
    // 2 positives × 2 negatives: 0.8 beats both, 0.4 beats one (0.3) → 3/4
    expect(rocAuc([pair(true, 0.8), pair(true, 0.4), pair(false, 0.6), pair(false, 0.3)])).toBe(0.75);
  });

  it('reads the true-accept rate at a false-accept rate off the impostor scores', () => {
    // 100 impostors with scores 0.00 … 0.99; FAR ≤ 1 % allows one above the threshold (0.99)
    const impostors = Array.from({ length: 100 }, (_, i) => pair(false, i / 100));
    const genuine = [0.995, 0.985, 0.5].map((s) => pair(true, s));
    const { tar, threshold } = tarAtFar([...impostors, ...genuine], 0.01);
    expect(threshold).toBeGreaterThan(0.98);
    expect(threshold).toBeLessThanOrEqual(0.985);
    expect(tar).toBeCloseTo(2 / 3);
    expect(tarAtFar([...impostors, ...genuine], 0.001).tar).toBeCloseTo(1 / 3);
  });

  it('k-fold accuracy chooses each fold threshold on the other folds', () => {
    // Over all pairs 0.65 separates 5 of 6; held out, each fold meets a threshold set by the others:
    // fold 0 gets 0.8 (from folds 1 and 2) and loses its genuine 0.6, folds 1 and 2 get 0.5 and
    // accept their impostor at 0.7.
    const pairs = [
      pair(true, 0.6, 0),
      pair(false, 0.4, 0),
      pair(true, 0.9, 1),
      pair(false, 0.7, 1),
      pair(true, 0.9, 2),
      pair(false, 0.7, 2),
    ];
    const s = summarizeVerification(pairs);
    expect(s.accuracy).toBeCloseTo(0.5);
    expect(s.accuracy_std).toBe(0);
    expect(accuracyAt(pairs, s.threshold)).toBeCloseTo(5 / 6);
    expect(s.pairs).toBe(6);
  });
});
