import { describe, expect, it } from 'vitest';
import { summarize, type ImageOutcome } from '../../src/evaluation/evaluate-folder.js';
import { expectedCalibrationError, offByMoreThanOne, unsureReport } from '../../src/evaluation/multiclass-metrics.js';

const bands = ['13-19', '20-29', '30-44', '45-59'];
const about = { detector: 'short', model: { id: 'age', path: '/m', sha256: null, delegate: 'xnnpack' } };
const face = (truth: string, predicted: string, probability: number, unsure = false): ImageOutcome => ({
  file: `${truth}/x.jpg`,
  truth,
  status: 'classified',
  predicted,
  probability,
  unsure,
  msImage: 1,
  msFace: 1,
});

describe('N-class metrics, hand-worked', () => {
  it('ECE: share-weighted |accuracy − confidence| over 15 equal-width bins', () => {
    // Bin [0.6, 0.667): two samples, confidence 0.6 and 0.65, one right: |0.5 − 0.625| × 2/4.
    // Bin [0.933, 1]: two samples at 0.95, both right: |1 − 0.95| × 2/4.
    const samples = [
      { confidence: 0.6, correct: true },
      { confidence: 0.65, correct: false },
      { confidence: 0.95, correct: true },
      { confidence: 0.95, correct: true },
    ];
    expect(expectedCalibrationError(samples)).toBeCloseTo(0.125 * 0.5 + 0.05 * 0.5, 12);
    expect(expectedCalibrationError([{ confidence: 1, correct: true }])).toBe(0);
    expect(expectedCalibrationError([])).toBeNull();
  });

  it('off by more than one step counts the distance in label order', () => {
    const pairs = [
      { truth: '13-19', predicted: '20-29' }, // one step
      { truth: '13-19', predicted: '30-44' }, // two
      { truth: '45-59', predicted: '13-19' }, // three
      { truth: '30-44', predicted: '30-44' },
    ];
    expect(offByMoreThanOne(bands, pairs)).toBe(0.5);
  });

  it('the unsure floor: share answered and accuracy there', () => {
    const r = unsureReport(0.5, [
      { confidence: 0.4, correct: false },
      { confidence: 0.5, correct: true },
      { confidence: 0.9, correct: false },
    ]);
    expect(r).toEqual({ floor: 0.5, answered: 2 / 3, accuracy_answered: 0.5 });
  });
});

describe('summarize with four ordered labels', () => {
  const outcomes = [
    face('13-19', '13-19', 0.9),
    face('13-19', '20-29', 0.6),
    face('20-29', '20-29', 0.7),
    face('30-44', '13-19', 0.4, true),
    face('45-59', '45-59', 0.8),
    face('45-59', '45-59', 0.55),
    { file: '30-44/y.jpg', truth: '30-44', status: 'no face', msImage: 1 } as ImageOutcome,
  ];
  const { summary, perClass } = summarize(outcomes, bands, about, { ordered: true, unsureFloor: 0.5 });

  it('has the N×N confusion, per-class and macro recall, plain accuracy, ECE, off-by-more-than-one', () => {
    expect(summary.confusion['13-19']).toEqual({ '13-19': 1, '20-29': 1, '30-44': 0, '45-59': 0 });
    expect(summary.confusion['30-44']).toEqual({ '13-19': 1, '20-29': 0, '30-44': 0, '45-59': 0 });
    expect(perClass['13-19'].recall).toBe(0.5);
    expect(summary.macro_recall).toBeCloseTo((0.5 + 1 + 0 + 1) / 4, 12);
    expect(summary.accuracy).toBeCloseTo(4 / 6, 12);
    expect(summary.accuracy_all).toBeCloseTo(4 / 7, 12);
    expect(summary.off_by_more_than_one).toBeCloseTo(1 / 6, 12);
    expect(summary.ece).toBeGreaterThan(0);
    expect(summary.unsure).toEqual({ floor: 0.5, answered: 5 / 6, accuracy_answered: 4 / 5 });
    expect(summary.roc_auc).toBeNull();
  });

  it('leaves off_by_more_than_one out for unordered labels, and two-label summaries as they were', () => {
    expect(summarize(outcomes, bands, about).summary).not.toHaveProperty('off_by_more_than_one');
    const two = summarize([face('13-19', '13-19', 0.9)], ['20-29', '13-19'], about).summary;
    for (const key of ['macro_recall', 'ece', 'off_by_more_than_one', 'unsure']) expect(two).not.toHaveProperty(key);
  });
});
