/**
 * The board sections of the configuration (gpio, rules, homeassistant, models): their defaults, and the
 * rules' references to outputs, inputs and cameras reported with their paths in the same pass as every
 * other problem.
 */
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';

function problems(tree: unknown): string[] {
  try {
    parseConfig(tree, { hostname: 'pi' });
  } catch (err) {
    if (err instanceof ConfigInvalidError) return err.issues.map((i) => `${i.path}: ${i.message}`);
    throw err;
  }
  return [];
}

const DOOR = { name: 'door', source: { type: 'gif', path: 'door.gif' } };

describe('board configuration sections', () => {
  it('defaults to no GPIO, no rules, HA discovery on, and the model store under state_dir', () => {
    const cfg = parseConfig({ state_dir: '/var/lib/faceedge' }, { hostname: 'pi' });
    expect(cfg.gpio).toEqual({ backend: 'auto', sysfs_root: '/sys/class/gpio', outputs: {}, inputs: {} });
    expect(cfg.rules).toEqual([]);
    expect(cfg.homeassistant).toEqual({ enabled: true, discovery_prefix: 'homeassistant' });
    expect(cfg.models).toEqual({
      dir: '/var/lib/faceedge/models',
      public_key: '/etc/faceedge/model-signing.pub.pem',
      require_signature: true,
      push: {},
    });
  });

  it('takes a full board section: outputs with their defaults, rules, HA and models settings from env-like strings', () => {
    const cfg = parseConfig(
      {
        cameras: [DOOR],
        gpio: {
          backend: 'libgpiod',
          chip: 'pinctrl-rp1',
          outputs: { relay: { line: 17 } },
          inputs: { pir: { line: 4 } },
        },
        rules: [
          {
            id: 'unlock',
            when: { camera: 'door', min_frames: 3 },
            then: { output: 'relay', pulse_ms: 500 },
            cooldown_ms: 10_000,
          },
          { when_input: 'pir', then: { camera: 'door' }, hold_ms: 20_000 },
        ],
        homeassistant: { enabled: 'false', discovery_prefix: 'ha/discovery' },
        models: { dir: '/data/models', require_signature: 'no' },
      },
      { hostname: 'pi' },
    );
    expect(cfg.gpio.outputs.relay).toMatchObject({ line: 17, safe: 'off', active_low: false, max_pulse_ms: 60_000 });
    expect(cfg.rules.map((r) => r.id)).toEqual(['unlock', undefined]);
    expect(cfg.homeassistant).toEqual({ enabled: false, discovery_prefix: 'ha/discovery' });
    expect(cfg.models).toMatchObject({ dir: '/data/models', require_signature: false });
  });

  it('reports rules naming unknown outputs, inputs and cameras with their paths, together with unrelated errors', () => {
    expect(
      problems({
        cameras: [DOOR],
        mqtt: { keepalive: 0 },
        gpio: { outputs: { relay: { line: 17 } } },
        rules: [
          { id: 'unlock', when: { camera: 'dor' }, then: { output: 'rely', pulse_ms: 500 } },
          { when_input: 'pir', then: { camera: 'door' } },
        ],
        homeassistant: { discovery: 'x' },
      }),
    ).toEqual([
      'mqtt.keepalive: Too small: expected number to be >=1',
      'homeassistant.discovery: unknown key',
      'rules.0.then.output: rule unlock: unknown GPIO output "rely" (known: relay)',
      'rules.0.when.camera: rule unlock: unknown camera "dor" (known: door)',
      'rules.1.when_input: rule rule-2: unknown GPIO input "pir" (known: none configured)',
    ]);
  });

  it('does not blame the rules for a malformed section they refer to: that section is reported once', () => {
    const found = problems({
      cameras: 'door',
      gpio: { outputs: { relay: { line: 17 } } },
      rules: [{ when: { camera: 'door' }, then: { output: 'relay', pulse_ms: 5 } }],
    });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^cameras: /);
  });

  it('reports a rule problem once, at the rule, when the rule itself is malformed', () => {
    expect(
      problems({ gpio: { outputs: { relay: { line: 17 } } }, rules: [{ when: {}, then: { output: 'relay' } }] }),
    ).toEqual(['rules.0.then: an event rule needs pulse_ms or state for its output']);
  });
});
