import { describe, expect, it } from 'vitest';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';

const labels = ['female', 'male'];
const box = (x: number, y = 50, size = 60) => ({ x, y, width: size, height: size });
const seen = (x: number, logit: number, size = 60, y = 50): FaceObservation => ({ box: box(x, y, size), logit });

function tracker(overrides = {}) {
  return new FaceTracker({ camera: 'door', labels, model: 'm1', minFrames: 3, maxMissedFrames: 2, updateIntervalMs: 500, ...overrides });
}

describe('FaceTracker', () => {
  it('reports a face only after minFrames, then ends it after maxMissedFrames', () => {
    const t = tracker();
    expect(t.update([seen(100, 2)], 0, 1_000)).toEqual([]);
    expect(t.update([seen(102, 2)], 40, 1_040)).toEqual([]);
    const [created] = t.update([seen(104, 2)], 80, 1_080);
    expect(created.type).toBe('new');
    expect(created.before).toBeNull();
    expect(created.after).toMatchObject({ id: 'door-1', camera: 'door', class: 'male', frames: 3, end_time: null, model: 'm1', start_time: 1 });
    expect(created.after.score).toBeCloseTo(1 / (1 + Math.exp(-2)), 3);
    expect(t.activeCount).toBe(1);
    expect(t.update([], 120, 1_120)).toEqual([]);
    expect(t.update([], 160, 1_160)).toEqual([]);
    const [ended] = t.update([], 200, 1_200);
    expect(ended).toMatchObject({ type: 'end', after: { id: 'door-1', end_time: 1.2, frames: 3 } });
    expect(ended.before).toEqual(created.after);
    expect(t.activeCount).toBe(0);
  });

  it('never reports a one-frame detection', () => {
    const t = tracker();
    const events = [t.update([seen(100, 3)], 0, 0), t.update([], 40, 40), t.update([], 80, 80), t.update([], 120, 120)].flat();
    expect(events).toEqual([]);
  });

  it('keeps ids stable for two faces that move, and follows a fast mover by its centre', () => {
    const t = tracker({ minFrames: 1 });
    const first = t.update([seen(0, -3), seen(300, 3)], 0, 0);
    expect(first.map((e) => [e.after.id, e.after.class])).toEqual([['door-1', 'female'], ['door-2', 'male']]);
    // Both move: 25 px (IoU 0.41) and 28 px (IoU 0.36) — plain IoU matches.
    t.update([seen(25, -3), seen(328, 3)], 600, 600);
    // Fast diagonal motion: 20 px right and 20 px down is IoU 0.29 < 0.3, but the centre moved less than half a face.
    const events = t.update([seen(45, -3, 60, 70), seen(328, 3)], 1200, 1200);
    expect(t.activeCount).toBe(2);
    expect(events.every((e) => e.type !== 'new')).toBe(true);
  });

  it('weights the class by face size and does not flap inside the hysteresis band', () => {
    const t = tracker({ minFrames: 1, updateIntervalMs: 0, hysteresis: 0.1 });
    t.update([seen(100, 1.0, 100)], 0, 0); // male, p = 0.73, big face
    // Slightly female small crops: the weighted mean stays male-ish, then inside the band: no flip.
    for (let i = 1; i <= 3; i++) t.update([seen(100, -0.8, 100)], i * 10, i * 10);
    const snapshot = t.update([seen(100, -0.3, 100)], 100, 100);
    const classes = snapshot.map((e) => e.after.class);
    expect(classes.every((c) => c === 'male')).toBe(true);
    // Strong female evidence finally flips it, with an update event carrying before/after.
    let flip;
    for (let i = 0; i < 10 && !flip; i++) flip = t.update([seen(100, -4, 100)], 200 + i * 10, 200 + i * 10).find((e) => e.after.class === 'female');
    expect(flip).toBeDefined();
    expect(flip!.type).toBe('update');
    expect(flip!.before!.class).toBe('male');
  });

  it('throttles updates to updateIntervalMs and only sends them when something changed', () => {
    const t = tracker({ minFrames: 1, updateIntervalMs: 1000 });
    t.update([seen(100, 2)], 0, 0);
    const updates = [];
    for (let ms = 40; ms <= 3000; ms += 40) updates.push(...t.update([seen(100, 2)], ms, ms));
    expect(updates).toEqual([]); // nothing changed: no message at all
    for (let ms = 3040; ms <= 5000; ms += 40) updates.push(...t.update([seen(100 + (ms - 3000) / 5, 2)], ms, ms));
    expect(updates.length).toBeGreaterThan(0);
    expect(updates.length).toBeLessThanOrEqual(2);
  });

  it('flush ends every reported track', () => {
    const t = tracker({ minFrames: 1 });
    t.update([seen(0, 1), seen(300, -1)], 0, 0);
    expect(t.flush(10, 10).map((e) => e.type)).toEqual(['end', 'end']);
    expect(t.activeCount).toBe(0);
  });
});
