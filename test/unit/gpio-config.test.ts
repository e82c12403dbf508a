/** The gpio: config section: defaults and the cross-line checks. */
import { describe, expect, it } from 'vitest';
import { gpioSchema } from '../../src/gpio/gpio-config-schema.js';

function issues(input: unknown): string[] {
  const result = gpioSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('gpio config', () => {
  it('fills documented defaults', () => {
    const config = gpioSchema.parse({ outputs: { relay: { line: 17 } }, inputs: { pir: { line: 4 } } });
    expect(config.backend).toBe('auto');
    expect(config.sysfs_root).toBe('/sys/class/gpio');
    expect(config.outputs.relay).toEqual({
      line: 17,
      active_low: false,
      safe: 'off',
      lock: false,
      max_pulse_ms: 60_000,
    });
    expect(config.inputs.pir).toEqual({
      line: 4,
      active_low: false,
      bias: 'as-is',
      edge: 'both',
      debounce_ms: 50,
      poll_ms: 10,
      device_class: 'motion',
    });
    expect(gpioSchema.parse({})).toMatchObject({ outputs: {}, inputs: {} });
  });

  it('refuses two names on one line, a name used twice, and topic-unsafe names', () => {
    expect(issues({ chip: 'pinctrl-rp1', outputs: { a: { line: 17 }, b: { line: 17 } } })).toEqual([
      'outputs.b.line: line pinctrl-rp1/17 is also used by outputs.a',
    ]);
    expect(issues({ outputs: { pir: { line: 1 } }, inputs: { pir: { line: 2 } } })).toEqual([
      'inputs.pir: "pir" is both an output and an input',
    ]);
    expect(issues({ outputs: { 'door/lock': { line: 1 } } })[0]).toMatch(/MQTT topic levels/);
    expect(issues({ outputs: { a: { line: 17, chip: 'x' }, b: { line: 17, chip: 'y' } } })).toEqual([]);
  });

  it('ties unlock_ms to lock outputs and to max_pulse_ms', () => {
    expect(issues({ outputs: { a: { line: 1, unlock_ms: 3000 } } })).toEqual([
      'outputs.a.unlock_ms: unlock_ms applies only with lock: true',
    ]);
    expect(issues({ outputs: { a: { line: 1, lock: true, unlock_ms: 90_000 } } })).toEqual([
      'outputs.a.unlock_ms: unlock_ms exceeds max_pulse_ms',
    ]);
    expect(issues({ outputs: { a: { line: 1, lock: true, unlock_ms: 3000 } } })).toEqual([]);
  });

  it('rejects unknown keys (a typo must not fall back to a default)', () => {
    expect(issues({ outputs: { a: { line: 1, saf: 'on' } } })[0]).toMatch(/saf/);
  });
});
