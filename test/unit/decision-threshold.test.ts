/**
 * The model's decision threshold and the unsure band, from one classification to the events: the
 * class an event reports is always the side of the threshold its score is for (never "male 0.43").
 */
import { describe, expect, it } from 'vitest';
import { mirrorCrop, toClassification } from '../../src/inference/face-classifier.js';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';

const labels = ['female', 'male'];
const seen = (logit: number): FaceObservation => ({ box: { x: 100, y: 50, width: 60, height: 60 }, logit });

describe('toClassification with a threshold', () => {
  it('decides against the threshold and reports the confidence of the decided class', () => {
    // Threshold 0.3: P(male) 0.4 is male, just above the threshold.
    const c = toClassification(labels, 0.4, 0.3);
    expect(c.label).toBe('male');
    expect(c.probability).toBe(0.4);
    expect(c.logit).toBeCloseTo(Math.log(0.4 / 0.6) - Math.log(0.3 / 0.7), 12);
    expect(c.confidence).toBeGreaterThan(0.5);
    expect(c.confidence).toBeLessThan(0.65);
    expect(toClassification(labels, 0.25, 0.3).label).toBe('female');
    expect(toClassification(labels, 0.3, 0.3)).toMatchObject({ label: 'male', confidence: 0.5 });
  });

  it('at the default threshold 0.5 the confidence is the probability of the decided class', () => {
    expect(toClassification(labels, 0.9).confidence).toBeCloseTo(0.9, 12);
    expect(toClassification(labels, 0.2)).toMatchObject({ label: 'female' });
    expect(toClassification(labels, 0.2).confidence).toBeCloseTo(0.8, 12);
  });

  it('mirrorCrop flips a crop left-right', () => {
    const crop = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // 2 x 2 x 3
    expect([...mirrorCrop(crop, 2)]).toEqual([4, 5, 6, 1, 2, 3, 10, 11, 12, 7, 8, 9]);
  });
});

function run(tracker: FaceTracker, logits: number[]): TrackEvent[] {
  return logits.flatMap((logit, i) => tracker.update([seen(logit)], i * 600, 1_000 + i * 600));
}

describe('events: threshold and unsure band', () => {
  it('a threshold-shifted logit reaches the event class (0.4 is male under threshold 0.3)', () => {
    const logit = toClassification(labels, 0.4, 0.3).logit;
    const [created] = run(new FaceTracker({ camera: 'door', labels, model: 'm', minFrames: 3 }), [logit, logit, logit]);
    expect(created.after).toMatchObject({ class: 'male' });
    expect(created.after.score).toBeGreaterThan(0.5);
  });

  it('no event says a class with a score below 0.5, whatever the hysteresis', () => {
    const t = new FaceTracker({
      camera: 'door',
      labels,
      model: 'm',
      minFrames: 1,
      updateIntervalMs: 500,
      hysteresis: 0.2,
      scoreDelta: 0.01,
    });
    // Male, then drifting to slightly female (inside the hysteresis), then clearly female, then ended.
    const events = [...run(t, [2, 2, 0.5, -0.2, -0.3, -0.35, -3, -3, -3, -3, -3, -3]), ...t.flush(99_000, 99_000)];
    for (const e of events) expect(e.after.score, JSON.stringify(e.after)).toBeGreaterThanOrEqual(0.5);
    const classes = events.map((e) => `${e.type}:${e.after.class}`);
    expect(classes[0]).toBe('new:male');
    expect(classes).toContain('update:female');
    // While the track was only slightly female nothing was published with either class.
    const firstFemale = events.findIndex((e) => e.after.class === 'female');
    expect(events[firstFemale].after.score).toBeGreaterThanOrEqual(0.7);
  });

  it('the unsure band reports class "unknown" near the threshold, and the real class outside it', () => {
    const t = new FaceTracker({
      camera: 'door',
      labels,
      model: 'm',
      minFrames: 1,
      updateIntervalMs: 0,
      unsureMargin: 0.15,
    });
    const [unsure] = run(t, [0.3]); // confidence 0.574 < 0.65
    expect(unsure.after.class).toBe('unknown');
    expect(unsure.after.score).toBeCloseTo(1 / (1 + Math.exp(-0.3)), 3);
    const sure = new FaceTracker({ camera: 'door', labels, model: 'm', minFrames: 1, unsureMargin: 0.15 });
    expect(run(sure, [2])[0].after.class).toBe('male');
    // Off by default: the same face is simply male.
    expect(run(new FaceTracker({ camera: 'door', labels, model: 'm', minFrames: 1 }), [0.3])[0].after.class).toBe(
      'male',
    );
  });
});
