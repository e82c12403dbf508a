import { describe, expect, test } from 'vitest';
import { compareWithin } from '../arm64/compare-within.js';

describe('compareWithin (the arm64 parity comparison)', () => {
  test('equal values: no difference, deviation 0', () => {
    const v = { faces: [{ box: { x: 173.2, y: 80 }, class: 'female', probability: 0.0859, end: null }] };
    expect(compareWithin(v, structuredClone(v), 1e-6)).toEqual({ differences: [], largestDeviation: 0 });
  });

  test('absolute tolerance up to 1, relative beyond', () => {
    expect(compareWithin({ p: 0.5 }, { p: 0.5 + 9e-7 }, 1e-6).differences).toEqual([]);
    expect(compareWithin({ p: 0.5 }, { p: 0.5 + 2e-6 }, 1e-6).differences).toEqual([
      expect.stringMatching(/^p: 0\.5 vs 0\.500002/),
    ]);
    // One float32 step at 173 px (1.5e-5) is 8.8e-8 relative: accepted.
    const { differences, largestDeviation } = compareWithin({ x: 173.21612135569254 }, { x: 173.21611467997232 }, 1e-6);
    expect(differences).toEqual([]);
    expect(largestDeviation).toBeGreaterThan(3e-8);
    expect(largestDeviation).toBeLessThan(4e-8);
    expect(compareWithin({ x: 173.2 }, { x: 173.2003 }, 1e-6).differences).toHaveLength(1);
  });

  test('shape, strings, nulls and NaN are compared exactly, with paths', () => {
    const a = { faces: [{ class: 'female', box: { x: 1 } }, { class: 'male' }], end: null, n: Number.NaN };
    const b = { faces: [{ class: 'male', box: {} }], end: 0, n: Number.NaN, extra: true };
    expect(compareWithin(a, b, 1e-6).differences).toEqual([
      'faces: 2 items vs 1',
      'faces[0].class: "female" vs "male"',
      'faces[0].box.x: missing on the right',
      'end: null vs 0',
      expect.stringMatching(/^n: NaN vs NaN/),
      'extra: missing on the left',
    ]);
  });
});
