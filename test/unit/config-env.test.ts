import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { applyOverrides, envOverrides } from '../../src/config/config-overrides.js';
import { loadConfig } from '../../src/config/load-config.js';

describe('env overrides', () => {
  it("maps FACEEDGE_A__B_C to a.b_c and ignores other variables, FACEEDGE_CONFIG and the tools' own variables", () => {
    const overrides = envOverrides({
      FACEEDGE_MQTT__URL: 'mqtt://b:1883',
      FACEEDGE_EMBEDDED_BROKER__PORT: '0',
      FACEEDGE_CONFIG: '/etc/faceedge.yaml',
      FACEEDGE_TEST_MODEL: '/tmp/model.tflite',
      FACEEDGE_STANDIN_LOG: '/tmp/args.txt',
      FACEEDGE_GPIO_SIM: '/tmp/gpio',
      FACEEDGE_FIRSTBOOT_DIR: '/boot',
      HOME: '/root',
    });
    expect(overrides.map((o) => o.path)).toEqual([
      ['embedded_broker', 'port'],
      ['mqtt', 'url'],
    ]);
    expect(overrides[0]!.source).toBe('env FACEEDGE_EMBEDDED_BROKER__PORT');
  });

  it('override file values; numbers, booleans and JSON lists are coerced by the schema', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-config-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'mqtt:\n  url: mqtt://file:1883\n  keepalive: 10\nlog: { level: warn }\n');
    const cfg = loadConfig({
      file,
      env: {
        FACEEDGE_MQTT__URL: 'mqtts://env:8883',
        FACEEDGE_MQTT__USERNAME: 'cam',
        // Stays a string: leading zeros of a password must survive.
        FACEEDGE_MQTT__PASSWORD: '0123',
        FACEEDGE_MQTT__TLS__REJECT_UNAUTHORIZED: 'false',
        FACEEDGE_MQTT__TLS__CA: '/etc/ca.pem',
        FACEEDGE_HTTP__PORT: '0',
        FACEEDGE_CAMERAS: '[{"name":"door","source":{"type":"image","path":"a.jpg"}}]',
        FACEEDGE_CAMERAS__0__SOURCE__FPS: '2.5',
      },
      flags: { 'log.level': 'debug', 'mqtt.keepalive': undefined },
    });
    expect(cfg.mqtt.url).toBe('mqtts://env:8883');
    expect(cfg.mqtt.keepalive).toBe(10);
    expect(cfg.mqtt.password).toBe('0123');
    expect(cfg.mqtt.tls).toEqual({ ca: '/etc/ca.pem', reject_unauthorized: false });
    expect(cfg.http.port).toBe(0);
    expect(cfg.cameras).toEqual([
      {
        name: 'door',
        source: { type: 'image', path: 'a.jpg', loop: false, fps: 2.5, realtime: true, max_pixels: 50_000_000 },
      },
    ]);
    expect(cfg.log.level).toBe('debug'); // flags win over file and env
  });

  it('GPIO lines and rule settings take their env spelling too (numbers and booleans as strings)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-config-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      [
        'cameras: [{ name: door, source: { type: image, path: a.jpg } }]',
        'gpio: { outputs: { relay: { line: 17 } }, inputs: { pir: { line: 4 } } }',
        'rules: [{ when: { camera: door }, then: { output: relay, pulse_ms: 500 } }]',
        '',
      ].join('\n'),
    );
    const cfg = loadConfig({
      file,
      env: {
        FACEEDGE_GPIO__OUTPUTS__RELAY__LINE: '22',
        FACEEDGE_GPIO__OUTPUTS__RELAY__ACTIVE_LOW: 'yes',
        FACEEDGE_GPIO__OUTPUTS__RELAY__LOCK: 'true',
        FACEEDGE_GPIO__OUTPUTS__RELAY__UNLOCK_MS: '3000',
        FACEEDGE_GPIO__INPUTS__PIR__DEBOUNCE_MS: '120',
        FACEEDGE_RULES__0__COOLDOWN_MS: '10000',
        FACEEDGE_RULES__0__ONCE_PER_TRACK: 'off',
        FACEEDGE_RULES__0__WHEN__MIN_SCORE: '0.8',
        FACEEDGE_RULES__0__THEN__PULSE_MS: '750',
      },
    });
    expect(cfg.gpio.outputs.relay).toMatchObject({ line: 22, active_low: true, lock: true, unlock_ms: 3000 });
    expect(cfg.gpio.inputs.pir).toMatchObject({ line: 4, debounce_ms: 120 });
    expect(cfg.rules[0]).toMatchObject({
      cooldown_ms: 10_000,
      once_per_track: false,
      when: { min_score: 0.8 },
      then: { pulse_ms: 750 },
    });
    // A value that is no number is still refused, named by its path.
    expect(() => loadConfig({ file, env: { FACEEDGE_GPIO__OUTPUTS__RELAY__LINE: 'seventeen' } })).toThrow(
      /gpio\.outputs\.relay\.line/,
    );
  });

  it('flags win over env', () => {
    const cfg = loadConfig({
      env: { FACEEDGE_MQTT__URL: 'mqtt://env:1883' },
      flags: { 'mqtt.url': 'mqtt://flag:1883' },
    });
    expect(cfg.mqtt.url).toBe('mqtt://flag:1883');
  });

  it('an env variable naming an unknown key is reported with its path', () => {
    expect.assertions(2);
    try {
      loadConfig({ env: { FACEEDGE_MQTT__URLL: 'x', FACEEDGE_HTTP__PORT: 'many' } });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigInvalidError);
      expect((err as ConfigInvalidError).issues.map((i) => i.path).sort()).toEqual(['http.port', 'mqtt.urll']);
    }
  });

  it('applyOverrides does not modify its input', () => {
    const tree = { mqtt: { url: 'a' } };
    const out = applyOverrides(tree, [{ path: ['mqtt', 'url'], value: 'b', source: 't' }]);
    expect(tree.mqtt.url).toBe('a');
    expect(out).toEqual({ mqtt: { url: 'b' } });
  });
});
