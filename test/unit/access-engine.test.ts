/**
 * The person rules (locks) with synthetic track events carrying the recognition contract (`person`,
 * `liveness`): every refusal path, lockout, the second factor in both orders, two cameras at once.
 */
import { describe, expect, it } from 'vitest';
import type { LivenessVerdict, PersonMatch, TrackEvent } from '../../src/pipeline/track-event.js';
import { makeSnapshot } from '../helpers/make-track-event.js';
import { AccessEngine } from '../../src/rules/access-engine.js';
import { accessSchema } from '../../src/rules/access-schema.js';
import { RulesEngine } from '../../src/rules/rules-engine.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

interface Face {
  camera?: string;
  track?: string;
  person?: PersonMatch | undefined;
  liveness?: LivenessVerdict | undefined;
  frames?: number;
}

const ALICE: PersonMatch = { name: 'alice', similarity: 0.82 };
const STRANGER: PersonMatch = { name: null, similarity: 0.31 };
const LIVE: LivenessVerdict = { outcome: 'live', score: 0.97 };
const ATTACK: LivenessVerdict = { outcome: 'attack', score: 0.04 };

function face(type: TrackEvent['type'], f: Face = {}): TrackEvent {
  const camera = f.camera ?? 'door';
  const snap = { ...makeSnapshot(camera, f.track ?? `${camera}-1`, 1, type === 'end'), frames: f.frames ?? 5 };
  const after = {
    ...snap,
    ...('person' in f ? (f.person ? { person: f.person } : {}) : { person: ALICE }),
    ...('liveness' in f ? (f.liveness ? { liveness: f.liveness } : {}) : { liveness: LIVE }),
  };
  return { type, before: type === 'new' ? null : after, after };
}

const LOCK = {
  id: 'front',
  when: { camera: 'door', person: ['alice', 'bob'] },
  then: { gpio: 'lock', pulse_ms: 3000 },
};

/** People the gallery holds in these tests (version 1), unless a test announces otherwise. */
const ENROLLED = ['alice', 'bob', 'carol'];

function access(rules: unknown[], lockout: object = {}, enrolled: readonly string[] | null = ENROLLED) {
  const engine = new AccessEngine(rulesSchema.parse(rules), accessSchema.parse({ lockout }).lockout);
  if (enrolled) engine.galleryChanged(1, enrolled);
  return engine;
}

describe('person rules: who opens', () => {
  it('opens for a listed, live person: one pulse, one granted decision with the contract fields', () => {
    const engine = access([LOCK]);
    const { actions, decisions } = engine.onEvent(face('new'), 1000);
    expect(actions).toEqual([
      { kind: 'pulse', output: 'lock', ms: 3000, rule: 'front', reason: 'door: alice recognized', at: 1000 },
    ]);
    expect(decisions).toEqual([
      {
        outcome: 'granted',
        reason: 'granted',
        rule: 'front',
        camera: 'door',
        track: 'door-1',
        person: 'alice',
        similarity: 0.82,
        liveness: 'live',
        liveness_score: 0.97,
        at: 1000,
      },
    ]);
    // Once per track: the track's next 100 updates open nothing and log nothing.
    for (let i = 0; i < 100; i++)
      expect(engine.onEvent(face('update'), 2000 + i)).toEqual({ actions: [], decisions: [] });
  });

  it('compares names as the gallery does: a rule naming alice opens for enrolled Alice, not for Alicia', () => {
    const engine = access([LOCK]);
    const alice = engine.onEvent(face('new', { person: { name: 'Alice', similarity: 0.8 } }), 0);
    expect(alice.actions).toHaveLength(1);
    expect(alice.decisions).toMatchObject([{ outcome: 'granted', person: 'Alice' }]);
    const other = engine.onEvent(face('new', { track: 'door-2', person: { name: 'Alicia', similarity: 0.8 } }), 0);
    expect(other.decisions).toMatchObject([{ outcome: 'denied', reason: 'not_permitted' }]);
  });

  it('any-known opens for any matched name, never for unknown', () => {
    const engine = access([{ ...LOCK, when: { person: 'any-known' } }]);
    expect(engine.onEvent(face('new', { person: { name: 'carol', similarity: 0.7 } }), 0).actions).toHaveLength(1);
    expect(engine.onEvent(face('new', { track: 'door-2', person: STRANGER }), 0).actions).toEqual([]);
  });

  it.each([
    ['an unknown face', { person: STRANGER }, 'unknown', null],
    ['a failed liveness check', { liveness: ATTACK }, 'not_live', 'alice'],
    ['a person the rule does not list', { person: { name: 'mallory', similarity: 0.9 } }, 'not_permitted', 'mallory'],
    ['a malformed similarity', { person: { name: 'alice', similarity: Number.NaN } }, 'error', null],
    ['a malformed liveness', { liveness: { outcome: 'maybe', score: 1 } as unknown as LivenessVerdict }, 'error', null],
  ])('refuses %s, logged once per track', (_what, f: Face, reason, person) => {
    const engine = access([LOCK]);
    const first = engine.onEvent(face('new', f), 0);
    expect(first.actions).toEqual([]);
    expect(first.decisions).toMatchObject([{ outcome: 'denied', reason, person, rule: 'front', track: 'door-1' }]);
    expect(engine.onEvent(face('update', f), 10)).toEqual({ actions: [], decisions: [] });
  });

  it('refuses a similarity under min_similarity', () => {
    const engine = access([{ ...LOCK, when: { ...LOCK.when, min_similarity: 0.9 } }]);
    expect(engine.onEvent(face('new'), 0).decisions).toMatchObject([{ reason: 'low_similarity', person: 'alice' }]);
  });

  it('waits while the track is not embedded or liveness is unconcluded, and logs what held it back at the end', () => {
    const engine = access([LOCK]);
    const notYet = { person: { name: null, similarity: null } };
    expect(engine.onEvent(face('new', notYet), 0)).toEqual({ actions: [], decisions: [] });
    // Never embedded: no decision was taken, nothing is logged.
    expect(engine.onEvent(face('end', notYet), 100)).toEqual({ actions: [], decisions: [] });

    const unsure = { track: 'door-2', liveness: { outcome: 'unknown', score: 0.6 } as LivenessVerdict };
    expect(engine.onEvent(face('new', unsure), 200)).toEqual({ actions: [], decisions: [] });
    expect(engine.onEvent(face('end', unsure), 300).decisions).toMatchObject([
      { outcome: 'denied', reason: 'not_live', person: 'alice', track: 'door-2' },
    ]);
  });

  it('a missing recognition field never opens and is logged as an error when the track ends', () => {
    const engine = access([LOCK]);
    const bare = { person: undefined, liveness: undefined };
    expect(engine.onEvent(face('new', bare), 0)).toEqual({ actions: [], decisions: [] });
    expect(engine.onEvent(face('end', bare), 50).decisions).toMatchObject([{ reason: 'error', person: null }]);
    const noLiveness = { track: 'door-3', liveness: undefined };
    expect(engine.onEvent(face('new', noLiveness), 60).actions).toEqual([]);
  });

  it('require_live: false opens for a photo (the site chose so)', () => {
    const engine = access([{ ...LOCK, when: { ...LOCK.when, require_live: false } }]);
    expect(engine.onEvent(face('new', { liveness: ATTACK }), 0).actions).toHaveLength(1);
  });

  it('opens once a track first refused as unknown is recognized, logging both decisions', () => {
    const engine = access([LOCK]);
    expect(engine.onEvent(face('new', { person: STRANGER }), 0).decisions).toMatchObject([{ reason: 'unknown' }]);
    const later = engine.onEvent(face('update'), 500);
    expect(later.actions).toHaveLength(1);
    expect(later.decisions).toMatchObject([{ outcome: 'granted', person: 'alice' }]);
  });

  it('logs every opening of a track that may open more than once (once_per_track: false)', () => {
    const engine = access([{ ...LOCK, once_per_track: false, cooldown_ms: 1000 }]);
    const opened: number[] = [];
    for (let t = 0; t <= 2500; t += 100) {
      const r = engine.onEvent(face('update'), t);
      expect(r.decisions.length).toBe(r.actions.length);
      if (r.actions.length > 0) opened.push(t);
    }
    expect(opened).toEqual([0, 1000, 2000]);
  });

  it('cuts grants to one per cooldown window', () => {
    const engine = access([{ ...LOCK, cooldown_ms: 10_000 }]);
    expect(engine.onEvent(face('new', { track: 'a' }), 0).actions).toHaveLength(1);
    expect(engine.onEvent(face('new', { track: 'b' }), 5000).actions).toEqual([]);
    expect(engine.onEvent(face('update', { track: 'b' }), 10_000).actions).toHaveLength(1);
    expect(engine.stats().front).toEqual({ granted: 2, denied: 0, suppressed: 1 });
  });

  it('leaves person rules out of the RulesEngine (no pulse from the class-based path)', () => {
    const rules = new RulesEngine(rulesSchema.parse([LOCK]));
    expect(rules.onEvent(face('new', { person: STRANGER }), 0)).toEqual([]);
    expect(rules.stats()).toEqual({});
  });
});

describe('lockout', () => {
  const LOCKOUT = { attempts: 3, window_s: 60, duration_s: 300 };

  it('shuts the camera after repeated unknown or spoofed attempts, even for an enrolled person, then reopens', () => {
    const engine = access([LOCK], LOCKOUT);
    expect(engine.onEvent(face('new', { track: 't1', person: STRANGER }), 0).decisions[0].lockout).toBeUndefined();
    // The same track again is not a second attempt.
    engine.onEvent(face('update', { track: 't1', person: { name: null, similarity: 0.2 } }), 100);
    engine.onEvent(face('new', { track: 't2', liveness: ATTACK }), 1000);
    const third = engine.onEvent(face('new', { track: 't3', person: STRANGER }), 2000);
    expect(third.decisions).toMatchObject([
      { outcome: 'denied', reason: 'unknown', lockout: { attempts: 3, duration_s: 300 } },
    ]);
    const alice = engine.onEvent(face('new', { track: 't4' }), 3000);
    expect(alice.actions).toEqual([]);
    expect(alice.decisions).toMatchObject([{ outcome: 'denied', reason: 'lockout', person: 'alice' }]);
    expect(engine.lockouts(3000)).toEqual({ door: 302_000 });
    expect(engine.onEvent(face('new', { track: 't5' }), 302_000).actions).toHaveLength(1);
  });

  it('forgets attempts older than the window', () => {
    const engine = access([LOCK], LOCKOUT);
    engine.onEvent(face('new', { track: 't1', person: STRANGER }), 0);
    engine.onEvent(face('new', { track: 't2', person: STRANGER }), 30_000);
    engine.onEvent(face('new', { track: 't3', person: STRANGER }), 61_000);
    expect(engine.lockouts(61_000)).toEqual({});
    expect(engine.onEvent(face('new', { track: 't4' }), 62_000).actions).toHaveLength(1);
  });

  it('counts a track that ended without ever proving live', () => {
    const engine = access([LOCK], { attempts: 2 });
    const unsure = (track: string) => ({ track, liveness: { outcome: 'unknown', score: 0.5 } as LivenessVerdict });
    for (const track of ['t1', 't2']) {
      engine.onEvent(face('new', unsure(track)), 0);
      engine.onEvent(face('end', unsure(track)), 100);
    }
    expect(engine.lockouts(200)).toEqual({ door: 300_100 });
  });

  it('forgets an open verdict naming a removed person: nothing of them is logged when the track ends', () => {
    const engine = access([LOCK]);
    const unsure = { liveness: { outcome: 'unknown', score: 0.5 } as LivenessVerdict };
    engine.onEvent(face('new', unsure), 0);
    engine.galleryChanged(2, ['bob', 'carol']);
    expect(engine.onEvent(face('end', unsure), 100)).toEqual({ actions: [], decisions: [] });
  });

  it('does not count a known person the rule does not list', () => {
    const engine = access([LOCK], { attempts: 1 });
    engine.onEvent(face('new', { person: { name: 'mallory', similarity: 0.9 } }), 0);
    expect(engine.lockouts(0)).toEqual({});
  });

  it('keeps two cameras apart under interleaved events', () => {
    const engine = access([{ ...LOCK, when: { person: 'any-known' } }], LOCKOUT);
    const granted: string[] = [];
    for (let i = 0; i < 30; i++) {
      // The porch sees a stranger on every step; the door sees a new enrolled face every third step.
      engine.onEvent(face('new', { camera: 'porch', track: `porch-${i}`, person: STRANGER }), i * 100);
      if (i % 3 === 0) {
        const r = engine.onEvent(face('new', { camera: 'door', track: `door-${i}` }), i * 100 + 50);
        granted.push(...r.decisions.filter((d) => d.outcome === 'granted').map((d) => d.track));
      }
    }
    expect(Object.keys(engine.lockouts(3000))).toEqual(['porch']);
    expect(granted).toEqual([
      'door-0',
      'door-3',
      'door-6',
      'door-9',
      'door-12',
      'door-15',
      'door-18',
      'door-21',
      'door-24',
      'door-27',
    ]);
    const porchAlice = engine.onEvent(face('new', { camera: 'porch', track: 'porch-alice' }), 3100);
    expect(porchAlice.decisions).toMatchObject([{ reason: 'lockout', camera: 'porch' }]);
  });
});

describe('second factor', () => {
  const WITH_BUTTON = { ...LOCK, when: { ...LOCK.when, second_factor: { input: 'button', within_s: 10 } } };

  it('opens when the button was pressed within the window before the recognition', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    expect(engine.onInput('button', true, 1000)).toEqual({ actions: [], decisions: [] });
    engine.onInput('button', false, 1200);
    const r = engine.onEvent(face('new'), 9000);
    expect(r.actions).toHaveLength(1);
    expect(r.decisions).toMatchObject([{ outcome: 'granted', second_factor: 'button' }]);
  });

  it('does not open for a press older than the window', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    engine.onInput('button', true, 1000);
    engine.onInput('button', false, 1200);
    expect(engine.onEvent(face('new'), 11_300).actions).toEqual([]);
  });

  it('opens when the button comes within the window after the recognition, even after the track ended', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    expect(engine.onEvent(face('new'), 20_000)).toEqual({ actions: [], decisions: [] });
    expect(engine.nextDeadline()).toBe(30_001);
    engine.onEvent(face('end'), 22_000);
    const r = engine.onInput('button', true, 29_000);
    expect(r.actions).toMatchObject([{ kind: 'pulse', output: 'lock', reason: 'door: alice recognized and button' }]);
    expect(r.decisions).toMatchObject([{ outcome: 'granted', person: 'alice', second_factor: 'button' }]);
    expect(engine.nextDeadline()).toBe(39_001); // when a button still held is reported stuck
    engine.onInput('button', false, 29_500);
    expect(engine.nextDeadline()).toBeNull();
  });

  it('a button active since start (stuck at boot) never counts: Bob recognized an hour later is refused', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', true, 0, true);
    expect(engine.onEvent(face('new', { person: { name: 'bob', similarity: 0.8 } }), 3_600_000).actions).toEqual([]);
    const r = engine.tick(3_610_001);
    expect(r.actions).toEqual([]);
    expect(r.decisions).toMatchObject([{ reason: 'no_second_factor', person: 'bob' }]);
  });

  it('a button active since start is reported once as a fault', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', true, 0, true);
    expect(engine.nextDeadline()).toBe(10_001);
    expect(engine.tick(10_001).faults).toEqual([{ input: 'button', held_s: 10.001 }]);
    expect(engine.tick(20_000)).toEqual({ actions: [], decisions: [] }); // once per holding
    expect(engine.nextDeadline()).toBeNull();
  });

  it('a press within the window before the recognition counts, also while still held', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    engine.onInput('button', true, 1000);
    expect(engine.onEvent(face('new'), 9000).actions).toHaveLength(1);
  });

  it('a button held longer than the window refuses, is reported once, and counts again once pressed anew', () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    engine.onInput('button', true, 1000);
    expect(engine.tick(11_001).faults).toEqual([{ input: 'button', held_s: 10.001 }]);
    const late = engine.onEvent(face('new'), 12_000);
    expect(late.actions).toEqual([]); // waiting: the holding is no press
    engine.onInput('button', false, 13_000);
    expect(engine.onInput('button', true, 14_000).actions).toHaveLength(1); // a real press within the window
  });

  it('refuses with no_second_factor once the window passes, and a late press opens nothing', () => {
    const engine = access([WITH_BUTTON]);
    engine.onEvent(face('new'), 0);
    expect(engine.tick(10_000)).toEqual({ actions: [], decisions: [] });
    expect(engine.tick(10_001).decisions).toMatchObject([{ outcome: 'denied', reason: 'no_second_factor' }]);
    expect(engine.onInput('button', true, 10_500)).toEqual({ actions: [], decisions: [] });
  });

  it('a press during a lockout opens nothing', () => {
    const engine = access([WITH_BUTTON], { attempts: 1 });
    engine.onEvent(face('new', { track: 'alice' }), 0);
    engine.onEvent(face('new', { track: 'x', person: STRANGER }), 100);
    const r = engine.onInput('button', true, 200);
    expect(r.actions).toEqual([]);
    expect(r.decisions).toMatchObject([{ reason: 'lockout', person: 'alice' }]);
  });

  it('a recognition that turns unknown stops waiting', () => {
    const engine = access([WITH_BUTTON]);
    engine.onEvent(face('new'), 0);
    engine.onEvent(face('update', { person: STRANGER }), 100);
    expect(engine.onInput('button', true, 200).actions).toEqual([]);
  });

  it('forgets a removed person waiting for the second factor', () => {
    const engine = access([WITH_BUTTON]);
    engine.onEvent(face('new'), 0);
    engine.galleryChanged(2, ['bob', 'carol']);
    expect(engine.onInput('button', true, 100)).toEqual({ actions: [], decisions: [] });
    engine.onInput('button', false, 200);
    expect(engine.tick(20_000)).toEqual({ actions: [], decisions: [] });
  });
});

describe('only people the gallery holds now', () => {
  const BOB: PersonMatch = { name: 'bob', similarity: 0.8 };
  const WITH_BUTTON = { ...LOCK, when: { ...LOCK.when, second_factor: { input: 'button', within_s: 10 } } };

  it("the reviewer's case: Bob waits for the button, is removed, the button is pressed, a stale update names him", () => {
    const engine = access([WITH_BUTTON]);
    engine.onInput('button', false, 0, true);
    expect(engine.onEvent(face('new', { person: BOB }), 1000).actions).toEqual([]); // waiting for the button
    engine.galleryChanged(2, ['alice', 'carol']);
    expect(engine.onInput('button', true, 2000).actions).toEqual([]);
    const stale = engine.onEvent(face('update', { person: BOB }), 2100);
    expect(stale.actions).toEqual([]);
    expect(stale.decisions).toMatchObject([{ outcome: 'denied', reason: 'not_enrolled', person: 'bob' }]);
    // Logged once for the track, however many stale updates follow.
    expect(engine.onEvent(face('update', { person: BOB }), 2200)).toEqual({ actions: [], decisions: [] });
    expect(engine.stats()).toEqual({ front: { granted: 0, denied: 1, suppressed: 0 } });
  });

  it('after a grant suppressed by the cooldown, and with once_per_track: false, a removed person opens nothing', () => {
    for (const rule of [
      { ...LOCK, cooldown_ms: 60_000 },
      { ...LOCK, once_per_track: false },
    ]) {
      const engine = access([rule]);
      expect(engine.onEvent(face('new', { track: 'a', person: BOB }), 0).actions).toHaveLength(1);
      engine.onEvent(face('new', { track: 'b', person: BOB }), 100); // suppressed by the cooldown, or a 2nd track
      engine.galleryChanged(2, ['alice']);
      expect(engine.onEvent(face('update', { track: 'a', person: BOB }), 120_000).actions).toEqual([]);
      const r = engine.onEvent(face('update', { track: 'b', person: BOB }), 120_000);
      expect(r.actions).toEqual([]);
      expect(r.decisions).toMatchObject([{ reason: 'not_enrolled' }]);
    }
  });

  it('opens for no one before the lock is told who is enrolled (fails secure), then for the enrolled', () => {
    const engine = access([LOCK], {}, null);
    const r = engine.onEvent(face('new'), 0);
    expect(r.actions).toEqual([]);
    expect(r.decisions).toMatchObject([{ reason: 'not_enrolled', detail: expect.stringContaining('not been told') }]);
    engine.galleryChanged(0, ['Alice']); // the gallery keys names as personKey does
    expect(engine.onEvent(face('update'), 100).actions).toHaveLength(1);
  });

  it('ignores an announcement older than the one in force (the start announcement racing a change)', () => {
    const engine = access([LOCK], {}, null);
    engine.galleryChanged(5, ['carol']);
    engine.galleryChanged(4, ['alice', 'carol']);
    expect(engine.onEvent(face('new'), 0).decisions).toMatchObject([{ reason: 'not_enrolled' }]);
  });
});
