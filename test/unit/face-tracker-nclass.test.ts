import { describe, expect, it } from 'vitest';
import { toClassification, toSoftmaxClassification } from '../../src/classification/classification.js';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';

const bands = ['0-12', '13-19', '20-29', '30-44', '45-59', '60+'];
const box = (x: number, size = 60) => ({ x, y: 50, width: size, height: size });

function ageTracker(overrides = {}) {
  return new FaceTracker({ camera: 'door', labels: bands, model: 'age', minFrames: 3, ...overrides });
}

/** An observation of a six-band model whose logits are `logits` (temperature 1). */
const seenAge = (x: number, logits: number[], size = 60): FaceObservation => {
  const c = toSoftmaxClassification(bands, logits);
  return { box: box(x, size), logit: c.logit, scores: c.scores };
};

describe('FaceTracker with three or more labels', () => {
  it('votes on the probability vector: the size-weighted mean log-probability through softmax', () => {
    const frames = [
      { logits: [0, 0, 3, 2, 0, 0], size: 60 },
      { logits: [0, 0, 1, 3, 0, 0], size: 80 },
      { logits: [0, 0, 2, 2.5, 0, 0], size: 70 },
    ];
    const t = ageTracker();
    const events = frames.flatMap((f, i) => t.update([seenAge(100 + i, f.logits, f.size)], i * 40, 1_000 + i * 40));
    expect(events).toHaveLength(1);
    const weights = frames.map((f) => f.size);
    const mean = bands.map(
      (_, k) =>
        frames.reduce((s, f, i) => s + weights[i] * toSoftmaxClassification(bands, f.logits).scores[k], 0) /
        weights.reduce((a, b) => a + b, 0),
    );
    const expected = toSoftmaxClassification(bands, mean);
    expect(events[0].after.class).toBe('30-44');
    expect(events[0].after.score).toBeCloseTo(expected.confidence, 3);
    // top_score: the best single-frame probability of the decided band.
    expect(events[0].after.top_score).toBeCloseTo(toSoftmaxClassification(bands, frames[1].logits).confidence, 3);
  });

  it('says unknown below the model unsure floor, and names the band once the track is sure', () => {
    const t = ageTracker({ unsureFloor: 0.6 });
    const vague = [0, 0, 1, 1.2, 0, 0]; // top probability ≈ 0.35
    const [created] = [0, 1, 2].flatMap((i) => t.update([seenAge(100, vague)], i * 40, 1_000 + i * 40));
    expect(created.after.class).toBe('unknown');
    expect(created.after.score).toBeLessThan(0.6);
    const sure = [0, 0, 0, 6, 0, 0];
    const later = [3, 4, 5, 6, 7, 8, 9, 10].flatMap((i) => t.update([seenAge(100, sure)], i * 600, 1_000 + i * 600));
    expect(later.at(-1)?.after.class).toBe('30-44');
  });

  it('refuses scores that do not match its labels (a typed error, not a silent mix-up)', () => {
    const t = ageTracker();
    expect(() => t.update([{ box: box(100), logit: 0, scores: [0, 1, 2] }], 0, 0)).toThrow(/3 class scores/);
  });
});

describe('FaceTracker with two labels: the vote is exactly the mean decision logit', () => {
  it('gives bit for bit the sigmoid of the size-weighted mean logit, with or without scores', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let run = 0; run < 20; run++) {
      const frames = Array.from({ length: 3 + Math.floor(random() * 6) }, () => ({
        p: random(),
        size: 50 + random() * 20, // boxes that stay one track
      }));
      const threshold = 0.2 + random() * 0.6;
      const withLogit = new FaceTracker({
        camera: 'c',
        labels: ['female', 'male'],
        model: 'g',
        minFrames: frames.length,
      });
      const withScores = new FaceTracker({
        camera: 'c',
        labels: ['female', 'male'],
        model: 'g',
        minFrames: frames.length,
      });
      let sum = 0;
      let weights = 0;
      let a: ReturnType<FaceTracker['update']> = [];
      let b: ReturnType<FaceTracker['update']> = [];
      frames.forEach((f, i) => {
        const c = toClassification(['female', 'male'], f.p, threshold);
        a = withLogit.update([{ box: box(100, f.size), logit: c.logit }], i * 40, i * 40);
        b = withScores.update([{ box: box(100, f.size), logit: c.logit, scores: c.scores }], i * 40, i * 40);
        const w = Math.sqrt(f.size * f.size);
        sum += w * c.logit;
        weights += w;
      });
      const p = 1 / (1 + Math.exp(-(sum / weights)));
      const confidence = p >= 0.5 ? p : 1 - p;
      expect(a).toHaveLength(1);
      expect(a[0].after.class).toBe(p >= 0.5 ? 'male' : 'female');
      expect(a[0].after.score).toBe(Math.round(confidence * 1000) / 1000);
      expect(b).toEqual(a);
    }
  });
});
