/** RuleRunner with person rules: pulses reach the lock, decisions are reported, a failed pulse is a refusal. */
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GpioOutput } from '../../src/gpio/gpio-types.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { TrackEvent } from '../../src/pipeline/track-event.js';
import type { AccessDecision } from '../../src/rules/access-decision.js';
import { AccessEngine } from '../../src/rules/access-engine.js';
import { accessSchema } from '../../src/rules/access-schema.js';
import { RuleRunner } from '../../src/rules/rule-runner.js';
import { RulesEngine } from '../../src/rules/rules-engine.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';
import { makeSnapshot } from '../helpers/make-track-event.js';

const alice = (track: string): TrackEvent => {
  const after = {
    ...makeSnapshot('door', track),
    person: { name: 'alice', similarity: 0.8 },
    liveness: { outcome: 'live' as const, score: 0.9 },
  };
  return { type: 'new', before: null, after };
};

function runnerWith(rules: unknown[], lock: GpioOutput | undefined, log = silentLogger()) {
  const config = rulesSchema.parse(rules);
  const decisions: AccessDecision[] = [];
  const access = new AccessEngine(config, accessSchema.parse({}).lockout);
  access.galleryChanged(1, ['alice']);
  const runner = new RuleRunner({
    engine: new RulesEngine(config),
    access,
    output: (name) => (name === 'lock' ? lock : undefined),
    setCameraRunning: () => {},
    onDecision: (d) => decisions.push(d),
    log,
    now: () => Date.now(),
  });
  return { runner, decisions };
}

function lockOutput(pulse: (ms: number) => Promise<void>): GpioOutput {
  return { name: 'lock', state: false, safe: false, set: async () => {}, pulse, close: async () => {} };
}

describe('RuleRunner with person rules', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  const LOCK = { id: 'front', when: { person: 'alice' }, then: { output: 'lock', pulse_ms: 3000 } };

  it('pulses the lock and reports the grant', async () => {
    const pulses: number[] = [];
    const { runner, decisions } = runnerWith(
      [LOCK],
      lockOutput(async (ms) => void pulses.push(ms)),
    );
    runner.event(alice('door-1'));
    await vi.runAllTimersAsync();
    expect(pulses).toEqual([3000]);
    expect(decisions).toMatchObject([{ outcome: 'granted', person: 'alice' }]);
  });

  it('follows a grant whose pulse failed with a refusal for error', async () => {
    const { runner, decisions } = runnerWith(
      [LOCK],
      lockOutput(() => Promise.reject(new Error('holder died'))),
    );
    runner.event(alice('door-1'));
    await vi.runAllTimersAsync();
    expect(decisions.map((d) => [d.outcome, d.reason, d.detail])).toEqual([
      ['granted', 'granted', undefined],
      ['denied', 'error', 'output lock failed: holder died'],
    ]);
  });

  it('refuses with error when the lock output is not there', () => {
    const { runner, decisions } = runnerWith([LOCK], undefined);
    runner.event(alice('door-1'));
    expect(decisions.map((d) => [d.outcome, d.reason, d.detail])).toEqual([
      ['denied', 'error', 'output lock is not configured'],
    ]);
  });

  it('schedules the end of a second-factor window and refuses then', async () => {
    const { runner, decisions } = runnerWith(
      [{ ...LOCK, when: { person: 'alice', second_factor: { input: 'button', within_s: 5 } } }],
      lockOutput(async () => {}),
    );
    runner.input('button', false, true);
    runner.event(alice('door-1'));
    expect(decisions).toEqual([]);
    await vi.advanceTimersByTimeAsync(4999);
    expect(decisions).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(decisions).toMatchObject([{ outcome: 'denied', reason: 'no_second_factor', second_factor: 'button' }]);
  });

  it('logs a second-factor input held past its window once, as a warning', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const { runner } = runnerWith(
      [{ ...LOCK, when: { person: 'alice', second_factor: { input: 'button', within_s: 5 } } }],
      lockOutput(async () => {}),
      log,
    );
    runner.input('button', true, true); // active since start
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lines.filter((l) => l.input === 'button')).toMatchObject([
      { level: 40, held_s: 5.001, msg: expect.stringContaining('stuck button') },
    ]);
  });
});
