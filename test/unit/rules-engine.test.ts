/** The rules engine with plain data: matching, cooldown storms, once-per-track, input holds and triggers. */
import { describe, expect, it } from 'vitest';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import { describeAction } from '../../src/rules/rule-action.js';
import { RulesEngine } from '../../src/rules/rules-engine.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

function event(
  type: TrackEvent['type'],
  track: { id?: string; camera?: string; class?: string; score?: number; frames?: number } = {},
): TrackEvent {
  const after = {
    id: track.id ?? 'door-1',
    camera: track.camera ?? 'door',
    box: { x: 10, y: 10, width: 64, height: 64 },
    face_area: 4096,
    class: track.class ?? 'female',
    score: track.score ?? 0.95,
    top_score: 0.97,
    frames: track.frames ?? 5,
    start_time: 1_700_000_000,
    end_time: type === 'end' ? 1_700_000_005 : null,
    model: 'test',
  };
  return { type, before: type === 'new' ? null : after, after };
}

const engine = (rules: unknown) => new RulesEngine(rulesSchema.parse(rules));

const UNLOCK = {
  id: 'unlock',
  when: { camera: 'door', class: ['female', 'male'], min_score: 0.9, min_frames: 3 },
  then: { output: 'relay', pulse_ms: 3000 },
  cooldown_ms: 10_000,
};

describe('event rules', () => {
  it('fires on a matching event with the rule id and a reason', () => {
    const actions = engine([UNLOCK]).onEvent(
      event('new', { id: 'door-7', class: 'male', score: 0.93, frames: 4 }),
      1000,
    );
    expect(actions).toEqual([
      {
        kind: 'pulse',
        output: 'relay',
        ms: 3000,
        rule: 'unlock',
        reason: 'door: track door-7 male 0.93, 4 frames (new)',
        at: 1000,
      },
    ]);
    expect(describeAction(actions[0])).toBe(
      'rule unlock: pulse relay for 3000 ms (door: track door-7 male 0.93, 4 frames (new))',
    );
  });

  it.each([
    ['another camera', { camera: 'garage' }],
    ['another class', { class: 'cat' }],
    ['a low score', { score: 0.89 }],
    ['too few frames', { frames: 2 }],
  ])('ignores %s', (_what, track) => {
    expect(engine([UNLOCK]).onEvent(event('update', track), 0)).toEqual([]);
  });

  it('ignores end events unless asked, and waits for a track to gather frames', () => {
    const rules = engine([UNLOCK]);
    expect(rules.onEvent(event('end'), 0)).toEqual([]);
    expect(rules.onEvent(event('new', { id: 't', frames: 1 }), 0)).toEqual([]);
    expect(rules.onEvent(event('update', { id: 't', frames: 3 }), 100)).toHaveLength(1);
    const onEnd = engine([{ when: { events: ['end'] }, then: { output: 'led', state: 'off' } }]);
    expect(onEnd.onEvent(event('end'), 0)).toMatchObject([{ kind: 'set', output: 'led', on: false, rule: 'rule-1' }]);
  });

  it('cuts a storm of 1000 events from different tracks to one action per cooldown window', () => {
    const rules = engine([UNLOCK]);
    let actions = 0;
    for (let i = 0; i < 1000; i++) actions += rules.onEvent(event('update', { id: `door-${i}` }), 5000).length;
    expect(actions).toBe(1);
    expect(rules.stats().unlock).toEqual({ fired: 1, suppressed: 999 });

    // 1000 events spread over 30 s (one every 30 ms): fires at 0, 10 s and 20 s only.
    const spread = engine([UNLOCK]);
    const times: number[] = [];
    for (let i = 0; i < 1000; i++)
      for (const a of spread.onEvent(event('update', { id: `t-${i}` }), i * 30)) times.push(a.at);
    expect(times).toEqual([0, 10_020, 20_040]);
  });

  it('fires once per track by default, again after the track ended, and per window without it', () => {
    const rules = engine([{ ...UNLOCK, cooldown_ms: 0 }]);
    let count = 0;
    for (let i = 0; i < 1000; i++) count += rules.onEvent(event('update', { id: 'door-1' }), i).length;
    expect(count).toBe(1);
    rules.onEvent(event('end', { id: 'door-1' }), 2000);
    expect(rules.onEvent(event('new', { id: 'door-1' }), 3000)).toHaveLength(1);

    const everyWindow = engine([{ ...UNLOCK, once_per_track: false }]);
    const fired: number[] = [];
    for (let t = 0; t <= 25_000; t += 100)
      for (const a of everyWindow.onEvent(event('update', { id: 'door-1' }), t)) fired.push(a.at);
    expect(fired).toEqual([0, 10_000, 20_000]);
  });

  it('lets a track that was cut by the cooldown fire once the window has passed', () => {
    const rules = engine([UNLOCK]);
    expect(rules.onEvent(event('update', { id: 'a' }), 0)).toHaveLength(1);
    expect(rules.onEvent(event('update', { id: 'b' }), 1000)).toHaveLength(0);
    expect(rules.onEvent(event('update', { id: 'b' }), 11_000)).toHaveLength(1);
  });
});

describe('input rules', () => {
  const GATE = { id: 'door-on-motion', when_input: 'pir', then: { camera: 'door' }, hold_ms: 20_000 };

  it('pauses a gated camera at start and runs it while the input is active plus hold_ms', () => {
    const rules = engine([GATE]);
    expect(rules.gatedCameras).toEqual(['door']);
    expect(rules.start(0)).toEqual([
      { kind: 'camera', camera: 'door', run: false, rule: 'door-on-motion', reason: 'waiting for input pir', at: 0 },
    ]);
    expect(rules.onInput('pir', false, 10, true)).toEqual([]);
    expect(rules.onInput('pir', true, 1000)).toEqual([
      { kind: 'camera', camera: 'door', run: true, rule: 'door-on-motion', reason: 'input pir active', at: 1000 },
    ]);
    expect(rules.onInput('pir', true, 1500)).toEqual([]);
    expect(rules.onInput('pir', false, 5000)).toEqual([]);
    expect(rules.nextDeadline()).toBe(25_000);
    expect(rules.tick(24_999)).toEqual([]);
    expect(rules.tick(25_000)).toEqual([
      {
        kind: 'camera',
        camera: 'door',
        run: false,
        rule: 'door-on-motion',
        reason: 'input pir inactive for 20000 ms',
        at: 25_000,
      },
    ]);
    expect(rules.nextDeadline()).toBeNull();
  });

  it('keeps holding when the input comes back before hold_ms ends', () => {
    const rules = engine([GATE]);
    rules.start(0);
    rules.onInput('pir', true, 0);
    rules.onInput('pir', false, 1000);
    expect(rules.onInput('pir', true, 15_000)).toEqual([]);
    expect(rules.tick(21_000)).toEqual([]);
    rules.onInput('pir', false, 30_000);
    expect(rules.tick(49_999)).toEqual([]);
    expect(rules.tick(50_000)).toMatchObject([{ kind: 'camera', run: false }]);
  });

  it('runs a camera gated by two inputs while either holds', () => {
    const rules = engine([GATE, { id: 'door-on-button', when_input: 'button', then: { camera: 'door' } }]);
    expect(rules.start(0)).toHaveLength(1);
    expect(rules.onInput('button', true, 0)).toMatchObject([{ camera: 'door', run: true, rule: 'door-on-button' }]);
    expect(rules.onInput('pir', true, 10)).toEqual([]);
    expect(rules.onInput('button', false, 20)).toEqual([]);
    rules.onInput('pir', false, 30);
    expect(rules.tick(20_030)).toMatchObject([{ camera: 'door', run: false, rule: 'door-on-motion' }]);
  });

  it('starts holding when the initial level is already active', () => {
    const rules = engine([GATE]);
    rules.start(0);
    expect(rules.onInput('pir', true, 0, true)).toMatchObject([{ kind: 'camera', run: true }]);
  });

  it('keeps an output on while an active-low input is active, and honours active: false', () => {
    const rules = engine([{ id: 'light', when_input: 'door', active: false, then: { output: 'led' }, hold_ms: 0 }]);
    expect(rules.start(0)).toEqual([]);
    expect(rules.onInput('door', false, 0)).toEqual([
      { kind: 'set', output: 'led', on: true, rule: 'light', reason: 'input door active', at: 0 },
    ]);
    expect(rules.onInput('door', true, 10)).toEqual([
      { kind: 'set', output: 'led', on: false, rule: 'light', reason: 'input door inactive', at: 10 },
    ]);
  });

  it('triggers on activation only (not on the initial level), with cooldown', () => {
    const rules = engine([
      { id: 'bell', when_input: 'button', then: { output: 'chime', pulse_ms: 500 }, cooldown_ms: 2000 },
    ]);
    expect(rules.onInput('button', true, 0, true)).toEqual([]);
    rules.onInput('button', false, 100);
    expect(rules.onInput('button', true, 200)).toEqual([
      { kind: 'pulse', output: 'chime', ms: 500, rule: 'bell', reason: 'input button active', at: 200 },
    ]);
    expect(rules.onInput('button', true, 250)).toEqual([]); // still active: no new activation
    rules.onInput('button', false, 300);
    expect(rules.onInput('button', true, 400)).toEqual([]); // within the cooldown
    rules.onInput('button', false, 2300);
    expect(rules.onInput('button', true, 2400)).toHaveLength(1);
    expect(rules.stats().bell).toEqual({ fired: 2, suppressed: 1 });
  });

  it('ignores inputs and events no rule mentions', () => {
    const rules = engine([GATE, UNLOCK]);
    expect(rules.onInput('door_contact', true, 0)).toEqual([]);
    expect(rules.onEvent(event('update', { camera: 'garage' }), 0)).toEqual([]);
  });
});
