import { describe, expect, it } from 'vitest';
import { chooseThreshold, type ScoredSample } from '../../src/evaluation/choose-threshold.js';

const samples = (set: string, negatives: number[], positives: number[]): ScoredSample[] => [
  ...negatives.map((probability) => ({ probability, positive: false, set })),
  ...positives.map((probability) => ({ probability, positive: true, set })),
];

describe('chooseThreshold', () => {
  it('keeps 0.5 for a set that 0.5 separates perfectly', () => {
    const choice = chooseThreshold(samples('a', [0.1, 0.2, 0.3], [0.7, 0.8, 0.9]));
    expect(choice.threshold).toBe(0.5);
    expect(choice.balanced_accuracy).toBe(1);
  });

  it('moves the threshold up when negatives score high (female faces read as male)', () => {
    // Negatives up to 0.62, positives from 0.66: 0.5 loses two negatives, 0.64 separates them.
    const choice = chooseThreshold(samples('wild', [0.1, 0.3, 0.55, 0.62], [0.66, 0.8, 0.9, 0.95]));
    expect(choice.threshold).toBeCloseTo(0.64, 12);
    expect(choice.balanced_accuracy).toBe(1);
    expect(choice.balanced_accuracy_at_half).toBe(0.75);
    expect(choice.sets_at_half[0]).toMatchObject({ recall_negative: 0.5, recall_positive: 1 });
  });

  it('weighs each set equally, whatever its size', () => {
    // A big set happy at 0.5 and a small one that needs 0.7: equal weights make the small one count.
    const big = samples('big', Array(100).fill(0.2), Array(100).fill(0.9));
    const small = samples('small', [0.6, 0.65], [0.75, 0.8]);
    expect(chooseThreshold([...big, ...small]).threshold).toBeCloseTo(0.7, 12);
  });

  it('equal-recall makes the two recalls as close as it can', () => {
    const data = samples('a', [0.1, 0.2, 0.45, 0.55, 0.58], [0.52, 0.6, 0.7, 0.8, 0.9]);
    const choice = chooseThreshold(data, 'equal-recall');
    const [s] = choice.sets;
    expect(Math.abs(s.recall_negative - s.recall_positive)).toBeLessThanOrEqual(0.2);
    expect(s.recall_negative).toBe(0.8);
  });

  it('refuses a set without both classes', () => {
    expect(() => chooseThreshold(samples('a', [0.1], []))).toThrow(/both classes/);
  });
});
