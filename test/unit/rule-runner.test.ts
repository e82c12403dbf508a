/** RuleRunner: actions reach outputs and cameras, and hold expiry is scheduled from nextDeadline. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GpioOutput } from '../../src/gpio/gpio-types.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { RuleAction } from '../../src/rules/rule-action.js';
import { RuleRunner } from '../../src/rules/rule-runner.js';
import { RulesEngine } from '../../src/rules/rules-engine.js';
import { rulesSchema } from '../../src/rules/rules-schema.js';

function recordingOutput(name: string, calls: string[]): GpioOutput {
  return {
    name,
    state: false,
    safe: false,
    set: async (on) => void calls.push(`${name} set ${on}`),
    pulse: async (ms) => void calls.push(`${name} pulse ${ms}`),
    close: async () => {},
  };
}

describe('RuleRunner', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('drives outputs and cameras, reports every action, and ends holds on time', async () => {
    const engine = new RulesEngine(
      rulesSchema.parse([
        { id: 'gate', when_input: 'pir', then: { camera: 'door' }, hold_ms: 20_000 },
        {
          id: 'unlock',
          when: { camera: 'door', min_score: 0.9 },
          then: { output: 'relay', pulse_ms: 3000 },
          cooldown_ms: 10_000,
        },
        { id: 'ghost', when_input: 'pir', then: { output: 'missing', state: 'on' } },
      ]),
    );
    const calls: string[] = [];
    const reported: RuleAction[] = [];
    const relay = recordingOutput('relay', calls);
    const runner = new RuleRunner({
      engine,
      output: (name) => (name === 'relay' ? relay : undefined),
      setCameraRunning: (camera, run) => calls.push(`${camera} ${run ? 'run' : 'pause'}`),
      onAction: (a) => reported.push(a),
      log: silentLogger(),
      now: () => Date.now(),
    });
    runner.start();
    runner.input('pir', false, true);
    runner.input('pir', true);
    const after = {
      id: 'door-1',
      camera: 'door',
      box: { x: 0, y: 0, width: 1, height: 1 },
      face_area: 1,
      class: 'male',
      score: 0.95,
      top_score: 0.95,
      frames: 3,
      start_time: 0,
      end_time: null,
      model: 'm',
    };
    runner.event({ type: 'new', before: null, after });
    await vi.advanceTimersByTimeAsync(1000);
    runner.input('pir', false);
    await vi.advanceTimersByTimeAsync(19_999);
    expect(calls).toEqual(['door pause', 'door run', 'relay pulse 3000']);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['door pause', 'door run', 'relay pulse 3000', 'door pause']);
    // An action naming an unconfigured output is logged as an error, neither applied nor reported as taken.
    expect(reported.map((a) => a.rule)).toEqual(['gate', 'gate', 'unlock', 'gate']);
    runner.stop();
  });

  it('stops scheduling on stop', async () => {
    const engine = new RulesEngine(rulesSchema.parse([{ when_input: 'pir', then: { camera: 'door' }, hold_ms: 5000 }]));
    const calls: string[] = [];
    const runner = new RuleRunner({
      engine,
      output: () => undefined,
      setCameraRunning: (c, r) => calls.push(`${c} ${r}`),
      log: silentLogger(),
      now: () => Date.now(),
    });
    runner.input('pir', true);
    runner.input('pir', false);
    runner.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual(['door true']);
  });
});
