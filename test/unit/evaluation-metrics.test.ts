import { describe, expect, it } from 'vitest';
import { summarize, type ImageOutcome } from '../../src/evaluation/evaluate-folder.js';
import { accuracy, classMetrics, confusionMatrix, median, rocAuc, rocCurve } from '../../src/evaluation/metrics.js';

const LABELS = ['female', 'male'] as const;

describe('confusion matrix and per-class metrics', () => {
  it('counts rows = true class and derives precision / recall / f1 by hand', () => {
    const m = confusionMatrix(LABELS, [
      { truth: 'female', predicted: 'female' },
      { truth: 'female', predicted: 'female' },
      { truth: 'female', predicted: 'male' },
      { truth: 'male', predicted: 'male' },
      { truth: 'male', predicted: 'female' },
    ]);
    expect(m).toEqual({ female: { female: 2, male: 1 }, male: { female: 1, male: 1 } });
    expect(accuracy(m)).toBeCloseTo(3 / 5, 12);
    const female = classMetrics(m, 'female');
    expect(female.precision).toBeCloseTo(2 / 3, 12);
    expect(female.recall).toBeCloseTo(2 / 3, 12);
    expect(female.support).toBe(3);
    const male = classMetrics(m, 'male');
    expect(male.precision).toBeCloseTo(1 / 2, 12);
    expect(male.recall).toBeCloseTo(1 / 2, 12);
    expect(male.f1).toBeCloseTo(1 / 2, 12);
  });

  it('reports null, not NaN, for a class never predicted and refuses unknown labels', () => {
    const m = confusionMatrix(LABELS, [{ truth: 'male', predicted: 'female' }]);
    expect(classMetrics(m, 'male')).toEqual({ precision: null, recall: 0, f1: null, support: 1 });
    expect(classMetrics(m, 'female').recall).toBeNull();
    expect(accuracy(confusionMatrix(LABELS, []))).toBeNull();
    expect(() => confusionMatrix(LABELS, [{ truth: 'cat', predicted: 'male' }])).toThrow(RangeError);
  });
});

describe('ROC', () => {
  it('AUC equals the share of correctly ordered positive/negative pairs', () => {
    // Pairs (pos, neg): (0.35, 0.1) ok, (0.35, 0.4) wrong, (0.8, 0.1) ok, (0.8, 0.4) ok → 3/4.
    const samples = [0.1, 0.4, 0.35, 0.8].map((score, i) => ({ score, positive: i >= 2 }));
    expect(rocAuc(samples)).toBeCloseTo(0.75, 12);
    expect(rocCurve(samples).map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [0, 0.5],
      [0.5, 0.5],
      [0.5, 1],
      [1, 1],
    ]);
  });

  it('counts ties as one half and moves the curve diagonally through them', () => {
    const tied = [
      { score: 0.5, positive: true },
      { score: 0.5, positive: false },
    ];
    expect(rocAuc(tied)).toBe(0.5);
    expect(rocCurve(tied).map((p) => [p.fpr, p.tpr])).toEqual([
      [0, 0],
      [1, 1],
    ]);
    const perfect = [0.9, 0.8, 0.2, 0.1].map((score, i) => ({ score, positive: i < 2 }));
    expect(rocAuc(perfect)).toBe(1);
    expect(rocAuc(perfect.map((s) => ({ ...s, positive: !s.positive })))).toBe(0);
  });

  it('is undefined with one class only', () => {
    expect(rocAuc([{ score: 0.3, positive: true }])).toBeNull();
    expect(rocCurve([{ score: 0.3, positive: false }])).toEqual([]);
  });
});

describe('median', () => {
  it('takes the middle value or the mean of the two middle ones', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});

describe('summarize', () => {
  const about = { detector: 'short', model: { id: 'm', path: '/m.tflite', sha256: null, delegate: 'xnnpack' } };
  const outcome = (
    truth: string,
    predicted: string | null,
    probability = 0.5,
    status: ImageOutcome['status'] = 'classified',
  ): ImageOutcome =>
    predicted === null
      ? { file: `${truth}/x.jpg`, truth, status, msImage: 10 }
      : { file: `${truth}/x.jpg`, truth, status, predicted, probability, msImage: 20, msFace: 1 };

  it('keeps accuracy over detected images and counts undetected ones as wrong in accuracy_all', () => {
    const { summary, perClass } = summarize(
      [
        outcome('female', 'female', 0.1),
        outcome('female', 'male', 0.7),
        outcome('male', 'male', 0.9),
        outcome('male', null, 0, 'no face'),
        outcome('female', null, 0, 'no face'),
        outcome('male', null, 0, 'unreadable'),
      ],
      LABELS,
      about,
    );
    expect(summary.n).toBe(6);
    expect(summary.detected).toBe(3);
    expect(summary.accuracy).toBeCloseTo(2 / 3, 12);
    expect(summary.accuracy_all).toBeCloseTo(2 / 6, 12);
    expect(summary.undetected).toEqual({ 'no face': 2, unreadable: 1 });
    expect(summary.confusion).toEqual({ female: { female: 1, male: 1 }, male: { female: 0, male: 1 } });
    expect(summary.recall).toEqual({ female: 0.5, male: 1 });
    expect(summary.precision).toEqual({ female: 1, male: 0.5 });
    expect(summary.roc_auc).toBe(1); // the male image (0.9) outranks both female ones (0.1, 0.7)
    expect(summary.ms_per_face).toBe(1);
    // Unreadable images never ran the pipeline: median of 20, 20, 20, 10, 10.
    expect(summary.ms_per_image).toBe(20);
    expect(perClass.female.support).toBe(2);
  });
});
