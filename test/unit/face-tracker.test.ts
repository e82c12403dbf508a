import { describe, expect, it } from 'vitest';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';

const labels = ['female', 'male'];
const box = (x: number, y = 50, size = 60) => ({ x, y, width: size, height: size });
const seen = (x: number, logit: number, size = 60, y = 50): FaceObservation => ({ box: box(x, y, size), logit });

function tracker(overrides = {}) {
  return new FaceTracker({
    camera: 'door',
    labels,
    model: 'm1',
    minFrames: 3,
    maxMissedFrames: 2,
    updateIntervalMs: 500,
    ...overrides,
  });
}

describe('FaceTracker', () => {
  it('reports a face only after minFrames, then ends it after maxMissedFrames', () => {
    const t = tracker();
    expect(t.update([seen(100, 2)], 0, 1_000)).toEqual([]);
    expect(t.update([seen(102, 2)], 40, 1_040)).toEqual([]);
    const [created] = t.update([seen(104, 2)], 80, 1_080);
    expect(created.type).toBe('new');
    expect(created.before).toBeNull();
    expect(created.after).toMatchObject({
      id: 'door-1',
      camera: 'door',
      class: 'male',
      frames: 3,
      end_time: null,
      model: 'm1',
      start_time: 1,
    });
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
    const events = [
      t.update([seen(100, 3)], 0, 0),
      t.update([], 40, 40),
      t.update([], 80, 80),
      t.update([], 120, 120),
    ].flat();
    expect(events).toEqual([]);
  });

  it('keeps ids stable for two faces that move, and follows a fast mover by its centre', () => {
    const t = tracker({ minFrames: 1 });
    const first = t.update([seen(0, -3), seen(300, 3)], 0, 0);
    expect(first.map((e) => [e.after.id, e.after.class])).toEqual([
      ['door-1', 'female'],
      ['door-2', 'male'],
    ]);
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
    for (let i = 0; i < 10 && !flip; i++)
      flip = t.update([seen(100, -4, 100)], 200 + i * 10, 200 + i * 10).find((e) => e.after.class === 'female');
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

  it("asks for a classification on a new face, on each of a track's first minFrames frames, then once per classifyIntervalMs", () => {
    const t = tracker({ minFrames: 3, classifyIntervalMs: 200, maxMissedFrames: 10 });
    const askedAt: number[] = [];
    let score = 0;
    for (let ms = 0; ms <= 1000; ms += 40) {
      const [due] = t.classificationDue([box(100 + ms / 40)], ms);
      if (due) askedAt.push(ms);
      // The classifier says 2 the first times, then something absurd that must never be averaged in
      // unless it was asked for.
      const events = t.update(
        [seen(100 + ms / 40, due ? 2 : -50)].map((o) => ({ ...o, logit: due ? o.logit : null })),
        ms,
        ms,
      );
      for (const e of events) score = e.after.score;
    }
    expect(askedAt).toEqual([0, 40, 80, 280, 480, 680, 880]);
    expect(score).toBeCloseTo(1 / (1 + Math.exp(-2)), 3);
    // A second face beside the first starts its own track: due at once, whatever the interval.
    expect(t.classificationDue([box(140), box(400)], 1010)).toEqual([false, true]);
    // 0 = every frame.
    t.retune({ classifyIntervalMs: 0 });
    expect(t.classificationDue([box(140)], 1010)).toEqual([true]);
  });

  it('classifies a face whose class is not clear (confidence below 0.5 + hysteresis) on every frame', () => {
    const t = tracker({ minFrames: 3, classifyIntervalMs: 200, hysteresis: 0.1 });
    for (let ms = 0; ms <= 400; ms += 40) {
      expect(t.classificationDue([box(100)], ms), `${ms} ms`).toEqual([true]);
      t.update([seen(100, 0.2)], ms, ms); // confidence 0.55
    }
  });

  it('counts unclassified frames as seen (the track lives on) without moving its score', () => {
    const t = tracker({ minFrames: 1, maxMissedFrames: 1 });
    const [created] = t.update([seen(100, 3)], 0, 0);
    for (let ms = 40; ms < 400; ms += 40) expect(t.update([{ box: box(100), logit: null }], ms, ms)).toEqual([]);
    const [ended] = t.flush(400, 400);
    expect(ended.after.frames).toBe(10);
    expect(ended.after.score).toBe(created.after.score);
  });

  it('says idle, acquiring (a face not yet confirmed) or steady (confirmed faces, seen or missing)', () => {
    const t = tracker({ minFrames: 2, maxMissedFrames: 1 });
    expect(t.state).toBe('idle');
    t.update([seen(100, 1)], 0, 0);
    expect(t.state).toBe('acquiring');
    t.update([seen(100, 1)], 40, 40);
    expect(t.state).toBe('steady');
    t.update([], 80, 80);
    expect(t.state).toBe('steady');
    t.update([seen(100, 1), seen(400, 1)], 120, 120);
    expect(t.state).toBe('acquiring');
    t.update([seen(100, 1)], 160, 160); // the new face missed before its confirmation: still worth every frame
    expect(t.state).toBe('acquiring');
    t.update([seen(100, 1)], 200, 200); // now it is gone
    expect(t.state).toBe('steady');
    t.update([], 240, 240);
    t.update([], 280, 280);
    expect(t.state).toBe('idle');
  });

  it("keeps a fast walker's track when frames are looked at 200 ms apart: it matches where the face should be by then", () => {
    const t = tracker({ minFrames: 1, maxMissedFrames: 2 });
    // 60-px face moving 20 px per 40 ms frame, seen on every frame for 1 s, then one frame in five (x + 100 px
    // each time: no overlap with the last box, and more than half a face away).
    for (let k = 0; k < 25; k++) t.update([seen(20 * k, 2)], 40 * k, 40 * k);
    const ids = new Set<string>();
    for (let k = 1; k <= 4; k++) {
      const x = 480 + 100 * k;
      for (const e of t.update([seen(x, 2)], 960 + 200 * k, 960 + 200 * k)) ids.add(e.after.id);
      expect(t.visibleTracks().map((v) => v.id)).toEqual(['door-1']);
    }
    expect([...ids].filter((id) => id !== 'door-1')).toEqual([]);
  });

  it('flush ends every reported track', () => {
    const t = tracker({ minFrames: 1 });
    t.update([seen(0, 1), seen(300, -1)], 0, 0);
    expect(t.flush(10, 10).map((e) => e.type)).toEqual(['end', 'end']);
    expect(t.activeCount).toBe(0);
  });
});
