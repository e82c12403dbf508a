/**
 * The tracker's side of recognition (issue 23): person and liveness in snapshots only when recognition is
 * on, an identity change published at once as an `update`, which face went to which track, and the
 * `<cam>/person` state built from the events (src/mqtt/person-state.ts).
 */
import { describe, expect, it } from 'vitest';
import { FaceTracker, type FaceObservation } from '../../src/pipeline/face-tracker.js';
import { CameraPersonState, NO_PERSON } from '../../src/mqtt/person-state.js';
import { UNDECIDED_IDENTITY } from '../../src/pipeline/track-recognizer.js';
import { recognitionThreshold } from '../../src/recognition/recognition-threshold.js';
import { haComponents } from '../../src/mqtt/ha-discovery.js';
import { liveTracks } from '../../src/live-view/overlay-feed.js';

const seen = (x: number): FaceObservation => ({ box: { x, y: 50, width: 60, height: 60 }, logit: 2 });
const ALICE = {
  person: { name: 'alice', similarity: 0.97 },
  liveness: { outcome: 'live' as const, score: 0.9 },
};

function tracker(recognizing: boolean) {
  const t = new FaceTracker({
    camera: 'door',
    labels: ['f', 'm'],
    model: 'm1',
    minFrames: 2,
    updateIntervalMs: 10_000,
  });
  if (recognizing) t.recognizeIdentities();
  return t;
}

describe('FaceTracker with recognition', () => {
  it('off: snapshots have no person or liveness, and setIdentity publishes nothing', () => {
    const t = tracker(false);
    t.update([seen(100)], 0, 0);
    const [created] = t.update([seen(101)], 40, 40);
    expect(Object.keys(created.after)).not.toContain('person');
    expect(Object.keys(created.after)).not.toContain('liveness');
    expect(t.setIdentity('door-1', ALICE, 80, 80)).toBeNull();
  });

  it('on: undecided in `new`, then an immediate `update` when the identity changes, and only then', () => {
    const t = tracker(true);
    t.update([seen(100)], 0, 0);
    expect(t.lastFrameTracks()).toEqual([{ id: 'door-1', confirmed: false }]);
    const [created] = t.update([seen(101)], 40, 40);
    expect(t.lastFrameTracks()).toEqual([{ id: 'door-1', confirmed: true }]);
    expect(created.after).toMatchObject(UNDECIDED_IDENTITY);
    // updateIntervalMs is 10 s: an identity does not wait for it (a lock is waiting).
    const update = t.setIdentity('door-1', ALICE, 80, 80);
    expect(update?.type).toBe('update');
    expect(update?.before).toMatchObject(UNDECIDED_IDENTITY);
    expect(update?.after).toMatchObject(ALICE);
    expect(t.setIdentity('door-1', ALICE, 120, 120)).toBeNull();
    expect(t.setIdentity('door-9', ALICE, 120, 120)).toBeNull();
    const [ended] = t.flush(200, 200);
    expect(ended.after).toMatchObject({ ...ALICE, end_time: 0.2 });
  });

  it('a track decided before it is confirmed carries its identity in `new`', () => {
    const t = tracker(true);
    t.update([seen(100)], 0, 0);
    expect(t.setIdentity('door-1', ALICE, 20, 20)).toBeNull();
    const [created] = t.update([seen(101)], 40, 40);
    expect(created.after).toMatchObject(ALICE);
  });
});

describe('<cam>/person', () => {
  const snap = (id: string, identity = UNDECIDED_IDENTITY) => ({
    id,
    camera: 'door',
    box: { x: 0, y: 0, width: 1, height: 1 },
    face_area: 1,
    class: 'f',
    score: 1,
    top_score: 1,
    frames: 3,
    start_time: 0,
    end_time: null,
    model: 'm',
    ...identity,
  });
  it('says the latest decision of the open tracks, unknown for nobody, none when they have ended', () => {
    const s = new CameraPersonState();
    expect(s.current).toEqual(NO_PERSON);
    expect(s.apply([{ type: 'new', before: null, after: snap('door-1') }])).toBeNull(); // undecided: no change
    expect(s.apply([{ type: 'update', before: null, after: snap('door-1', ALICE) }])).toEqual({
      person: 'alice',
      similarity: 0.97,
      liveness: 'live',
      track: 'door-1',
    });
    const stranger = { person: { name: null, similarity: 0.41 }, liveness: ALICE.liveness };
    expect(s.apply([{ type: 'update', before: null, after: snap('door-2', stranger) }])?.person).toBe('unknown');
    expect(s.apply([{ type: 'end', before: null, after: snap('door-2', stranger) }])?.person).toBe('alice');
    expect(s.apply([{ type: 'end', before: null, after: snap('door-1', ALICE) }])).toEqual(NO_PERSON);
  });

  it('Home Assistant gets a person sensor per camera only with recognition on', () => {
    const base = { baseTopic: 'faceedge', deviceId: 'd', deviceName: 'D', version: '1', cameras: ['door'] };
    expect(haComponents(base).door_person).toBeUndefined();
    expect(haComponents({ ...base, recognition: true }).door_person).toMatchObject({
      p: 'sensor',
      state_topic: 'faceedge/d/door/person',
      value_template: '{{ value_json.person }}',
    });
  });
});

describe('the live view', () => {
  it('shows the name and liveness beside the box, and nothing of them with recognition off', () => {
    for (const recognizing of [false, true]) {
      const t = tracker(recognizing);
      t.update([seen(100)], 0, 0);
      t.update([seen(101)], 40, 40);
      t.setIdentity('door-1', ALICE, 80, 80);
      const [track] = liveTracks(t.visibleTracks(), ['f', 'm']);
      if (recognizing) expect(track).toMatchObject({ person: 'alice', liveness: 'live' });
      else expect(Object.keys(track)).toEqual(['id', 'class', 'score', 'confirmed', 'label_index', 'box']);
    }
  });
});

describe('recognitionThreshold', () => {
  const manifest = { threshold: 0.953, far: 0.001, stricter: [{ far: 0.0001, threshold: 0.97 }] };
  it("takes the manifest's threshold, or the loosest measured one at or below a stricter rate", () => {
    expect(recognitionThreshold(manifest)).toEqual({ far: 0.001, threshold: 0.953 });
    expect(recognitionThreshold(manifest, 0.001)).toEqual({ far: 0.001, threshold: 0.953 });
    expect(recognitionThreshold(manifest, 0.0005)).toEqual({ far: 0.0001, threshold: 0.97 });
  });
  it('refuses a looser rate, and a stricter one nothing was measured for', () => {
    expect(() => recognitionThreshold(manifest, 0.01)).toThrow(/can only tighten/);
    expect(() => recognitionThreshold(manifest, 0.00001)).toThrow(/no threshold measured/);
    expect(() => recognitionThreshold({ threshold: 0.953, far: 0.001 }, 0.0001)).toThrow(/no threshold measured/);
  });
});
