/** Rollout planning (targets, waves) and the health gate's verdicts, on plain data. */
import { describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { gateReasons, type GateInput, type RateSample } from '../../src/fleet/health-gate.js';
import type { BoardRow } from '../../src/fleet/fleet-view.js';
import { planWaves, selectTargets } from '../../src/fleet/rollout-plan.js';

const SHA = 'b'.repeat(64);
const row = (device: string, over: Partial<BoardRow> = {}): BoardRow => ({
  device,
  online: true,
  since: null,
  last_seen: null,
  version: '0.1.0',
  model: { id: 'm', sha256: SHA, installed: 'model-store', version: 'm-1' },
  delegate: { active: 'xnnpack', fallback_reason: null },
  tags: [],
  cameras: [{ name: 'cam', capture: 'online', fps: 4, events_total: 10, last_event: null }],
  ...over,
});
const usage = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return isFaceedgeError(e, 'USAGE') ? e.message : `not USAGE: ${String(e)}`;
  }
  return 'no error';
};

describe('selectTargets / planWaves', () => {
  const boards = [row('c', { tags: ['lobby'] }), row('a', { tags: ['lobby', 'x'] }), row('b')];
  it('selects by tag or all (sorted) or by a device list (in the given order)', () => {
    expect(selectTargets(boards, { tag: 'lobby' })).toEqual(['a', 'c']);
    expect(selectTargets(boards, { all: true })).toEqual(['a', 'b', 'c']);
    expect(selectTargets(boards, { devices: ['c', 'a', 'c'] })).toEqual(['c', 'a']);
  });
  it('refuses unknown devices, an empty tag and ambiguous selectors', () => {
    expect(usage(() => selectTargets(boards, { devices: ['a', 'zz'] }))).toMatch(/unknown device\(s\): zz/);
    expect(usage(() => selectTargets(boards, { tag: 'none' }))).toMatch(/no board has the tag "none"/);
    expect(usage(() => selectTargets(boards, { tag: 'lobby', all: true }))).toMatch(/exactly one of/);
    expect(usage(() => selectTargets(boards, {}))).toMatch(/exactly one of/);
  });
  it('plans a canary and then waves', () => {
    const ids = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'];
    expect(planWaves(ids, 2, 6)).toEqual([
      ['1', '2'],
      ['3', '4', '5', '6', '7', '8'],
      ['9', '10'],
    ]);
    expect(planWaves(ids.slice(0, 3), 0, 2)).toEqual([['1', '2'], ['3']]);
    expect(planWaves(ids.slice(0, 1), 5, 2)).toEqual([['1']]);
    expect(usage(() => planWaves(ids, 1, 0))).toMatch(/--wave/);
  });
});

describe('gateReasons', () => {
  const rate = (fps: number | null, events: number, eventsPerS: number | null, restarted = false): RateSample => ({
    fps,
    events,
    eventsPerS,
    restarted,
  });
  const healthy = { status: 'ok' as const, data: { ready: true, reasons: [], model: { sha256: SHA } } };
  const base: GateInput = {
    targetSha256: SHA,
    row: row('a'),
    health: healthy,
    baseline: rate(4, 20, 2),
    soak: rate(4, 10, 1.5),
  };

  it('passes a healthy board on the new model', () => {
    expect(gateReasons(base)).toEqual([]);
  });
  it('names every problem: offline, wrong model, unready, capture down, frame and event regressions, restarts', () => {
    expect(gateReasons({ ...base, row: row('a', { online: false }) })).toEqual(['offline']);
    expect(
      gateReasons({
        ...base,
        row: row('a', { model: { id: 'm', sha256: 'c'.repeat(64), installed: null, version: null } }),
      })[0],
    ).toMatch(/bridge\/info names model cccccccccccc…, not bbbbbbbbbbbb…/);
    expect(
      gateReasons({
        ...base,
        health: { status: 'ok', data: { ready: false, reasons: ['camera cam: no frame yet'], model: { sha256: SHA } } },
      }),
    ).toEqual(['not ready: camera cam: no frame yet']);
    expect(gateReasons({ ...base, health: new Error('no answer') })).toEqual(['health_check: no answer']);
    expect(
      gateReasons({
        ...base,
        row: row('a', { cameras: [{ name: 'cam', capture: 'offline', fps: 0, events_total: 0, last_event: null }] }),
      }),
    ).toEqual(['camera cam: capture offline']);
    expect(gateReasons({ ...base, soak: rate(1.9, 10, 1.5) })).toEqual(['frames 1.9/s < 0.5 × 4.0/s before']);
    expect(gateReasons({ ...base, soak: rate(null, 0, null) })).toEqual([
      'no stats during the soak',
      'events 0.00/s < 0.5 × 2.00/s before',
    ]);
    expect(gateReasons({ ...base, soak: rate(4, 1, 0.5) })).toEqual(['events 0.50/s < 0.5 × 2.00/s before']);
    expect(gateReasons({ ...base, soak: rate(4, 10, 1.5, true) })).toEqual(['the daemon restarted during the soak']);
  });
  it('does not gate events on too small a baseline, or when turned off', () => {
    expect(gateReasons({ ...base, baseline: rate(4, 3, 0.3), soak: rate(4, 0, 0) })).toEqual([]);
    expect(
      gateReasons({
        ...base,
        soak: rate(4, 0, 0),
        thresholds: { minFrameRatio: 0.5, minEventRatio: 0, minBaselineEvents: 5 },
      }),
    ).toEqual([]);
  });
});
