import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/config/check-config.js';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { deviceIdFromHostname, loadConfig } from '../../src/config/load-config.js';
import { isFaceedgeError } from '../../src/errors.js';

function writeYaml(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'faceedge-config-'));
  const file = join(dir, 'faceedge.yaml');
  writeFileSync(file, text);
  return file;
}

describe('loadConfig defaults', () => {
  it('accepts an empty file and fills every documented default', () => {
    const cfg = loadConfig({ file: writeYaml(''), env: {}, hostname: 'Door Pi.local' });
    expect(cfg.device).toEqual({ id: 'door-pi-local', name: 'door-pi-local', tags: [] });
    expect(cfg.mqtt.url).toBeUndefined();
    expect(cfg.mqtt.base_topic).toBe('faceedge');
    expect(cfg.mqtt.client_id).toBe('faceedge-door-pi-local');
    expect(cfg.mqtt.keepalive).toBe(30);
    expect(cfg.mqtt.outbox).toEqual({ dir: join('.faceedge', 'outbox'), max_events: 10_000 });
    expect(cfg.embedded_broker).toEqual({ host: '127.0.0.1', port: 1883 });
    expect(cfg.cameras).toEqual([]);
    expect(cfg.detector).toEqual({ model: 'short', score_threshold: 0.5, nms_iou: 0.3, min_face_px: 24 });
    expect(cfg.classifier).toEqual({
      model: 'models/faceedge-gender_int8.tflite',
      manifest: 'models/manifest.json',
      threads: 1,
      delegate: 'xnnpack',
      delegate_options: {},
    });
    expect(cfg.tracker.min_frames).toBe(3);
    // Loopback: /healthz, /metrics and the live view are opened to the network only on request (http.host).
    expect(cfg.http).toEqual({ host: '127.0.0.1', port: 9464, enrol_users: [], snapshots: false });
    expect(cfg.log.level).toBe('info');
    expect(cfg.state_dir).toBe('.faceedge');
  });

  it('uses systemd STATE_DIRECTORY for state_dir and the outbox', () => {
    const cfg = loadConfig({ env: { STATE_DIRECTORY: '/var/lib/faceedge:/var/lib/other' }, hostname: 'pi' });
    expect(cfg.state_dir).toBe('/var/lib/faceedge');
    expect(cfg.mqtt.outbox.dir).toBe('/var/lib/faceedge/outbox');
  });

  it('returns a deeply frozen object', () => {
    const cfg = loadConfig({
      file: writeYaml(
        'cameras:\n  - name: door\n    source: { type: mjpeg_process, command: rpicam-vid, args: [-t, "0"] }\n',
      ),
      env: {},
    });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.mqtt.outbox)).toBe(true);
    expect(Object.isFrozen(cfg.cameras[0]!.source)).toBe(true);
    expect(() => {
      (cfg.mqtt as { base_topic: string }).base_topic = 'x';
    }).toThrow(TypeError);
  });

  it('derives names from hostnames that are not valid topic levels', () => {
    expect(deviceIdFromHostname('RPi_5 #2')).toBe('rpi_5-2');
    expect(deviceIdFromHostname('###')).toBe('faceedge');
  });
});

describe('loadConfig errors', () => {
  const bad = [
    'device:',
    '  id: "front door"',
    'mqtt:',
    '  keepalive: soon',
    '  passwrd: typo',
    '  password: hunter2',
    '  tls: { cert: client.pem }',
    'cameras:',
    '  - name: door',
    '    source: { type: webcam, path: /dev/video0 }',
    '  - name: door',
    '    source: { type: image }',
    'detector:',
    '  score_threshold: 2',
    'http: { port: 70000 }',
    'bogus: 1',
  ].join('\n');

  it('reports every problem at once, each with the path of the bad key', () => {
    let caught: unknown;
    try {
      loadConfig({ file: writeYaml(bad), env: { FACEEDGE_LOG__LEVEL: 'loud' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigInvalidError);
    expect(isFaceedgeError(caught, 'CONFIG_INVALID')).toBe(true);
    const paths = (caught as ConfigInvalidError).issues.map((i) => i.path).sort();
    expect(paths).toEqual(
      [
        'bogus',
        'cameras.0.source.type',
        'cameras.1.name',
        'cameras.1.source.path',
        'detector.score_threshold',
        'device.id',
        'http.port',
        'log.level',
        'mqtt.keepalive',
        'mqtt.password',
        'mqtt.passwrd',
        'mqtt.tls.cert',
      ].sort(),
    );
    const byPath = new Map((caught as ConfigInvalidError).issues.map((i) => [i.path, i.message]));
    expect(byPath.get('bogus')).toBe('unknown key');
    expect(byPath.get('cameras.1.name')).toMatch(/duplicate camera name "door"/);
    expect(byPath.get('mqtt.password')).toMatch(/requires mqtt.username/);
  });

  it('checkConfig returns the same list as path: message lines instead of throwing', () => {
    const result = checkConfig(writeYaml(bad), {});
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(11);
    expect(result.errors).toContain('mqtt.passwrd: unknown key');
    expect(result.config).toBeUndefined();
  });

  it('checkConfig accepts a good file and reports YAML syntax errors with a line number', () => {
    expect(checkConfig(writeYaml('mqtt:\n  url: mqtt://broker:1883\n'), {}).ok).toBe(true);
    const syntax = checkConfig(writeYaml('mqtt:\n  url: [\n'), {});
    expect(syntax.ok).toBe(false);
    expect(syntax.errors[0]).toMatch(/YAML syntax error.*line 3/);
  });

  it('refuses TLS settings with a plain mqtt:// URL', () => {
    const result = checkConfig(writeYaml('mqtt:\n  url: mqtt://broker:1883\n  tls: { ca: /etc/ca.pem }\n'), {});
    expect(result.errors).toEqual([
      'mqtt.url: mqtt.tls is set but the URL is not mqtts:// or wss://: the connection would not be encrypted',
    ]);
  });

  it('checkConfig refuses what run would refuse: a broker port past 65535, unreadable TLS files', () => {
    const port = checkConfig(writeYaml('mqtt:\n  url: mqtt://cam:s3cret@broker:99999\n'), {});
    expect(port.errors).toEqual(['mqtt.url: port 99999 is out of range (1 to 65535)']);
    expect(checkConfig(undefined, { FACEEDGE_MQTT__URL: 'mqtt://broker:0' }).errors).toEqual([
      'mqtt.url: port 0 is out of range (1 to 65535)',
    ]);
    expect(checkConfig(undefined, { FACEEDGE_HTTP__PORT: '99999' }).errors).toEqual([
      'http.port: Too big: expected number to be <=65535',
    ]);

    const missing = checkConfig(
      writeYaml(
        'mqtt:\n  url: mqtts://broker:8883\n  tls: { ca: /nonexistent/ca.pem, cert: /nonexistent/c.pem, key: /nonexistent/k.pem }\n',
      ),
      {},
    );
    expect(missing.ok).toBe(false);
    expect(missing.errors).toEqual([
      'mqtt.tls.ca: cannot read /nonexistent/ca.pem: ENOENT',
      'mqtt.tls.cert: cannot read /nonexistent/c.pem: ENOENT',
      'mqtt.tls.key: cannot read /nonexistent/k.pem: ENOENT',
    ]);
    const ca = writeYaml('-----BEGIN CERTIFICATE-----\n');
    expect(checkConfig(writeYaml(`mqtt:\n  url: mqtts://broker:8883\n  tls: { ca: ${ca} }\n`), {}).ok).toBe(true);
  });

  it('checkConfig reports a missing file and a top level that is not a mapping', () => {
    expect(checkConfig('/nonexistent/faceedge.yaml', {}).errors).toEqual([
      'cannot read config file /nonexistent/faceedge.yaml: ENOENT',
    ]);
    expect(checkConfig(writeYaml('- a\n- b\n'), {}).errors[0]).toMatch(/top level must be a mapping/);
  });

  it('a YAML alias bomb is one clean config error, refused within its first expansions', () => {
    // "Billion laughs": each level repeats the one before ten times; fully expanded, 10^9 strings.
    const levels = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i <= 9; i++)
      levels.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const bomb = writeYaml(`${levels.join('\n')}\ncameras: *a9\n`);
    const started = performance.now();
    let thrown: unknown;
    try {
      loadConfig({ file: bomb, env: {} });
    } catch (err) {
      thrown = err;
    }
    expect(performance.now() - started).toBeLessThan(2000);
    expect(thrown).toBeInstanceOf(ConfigInvalidError);
    expect((thrown as ConfigInvalidError).issues).toEqual([
      { path: '', message: `${bomb}: YAML aliases: Excessive alias count indicates a resource exhaustion attack` },
    ]);
    expect(checkConfig(bomb, {}).errors).toHaveLength(1);
    // An anchor shared by a few cameras, as people write configs, still loads.
    const shared = loadConfig({
      file: writeYaml(
        [
          'cameras:',
          '  - name: a',
          '    source: &src { type: rpicam, width: 640, height: 480 }',
          '  - { name: b, source: *src }',
          '  - { name: c, source: *src }',
        ].join('\n'),
      ),
      env: {},
    });
    expect(shared.cameras.map((c) => [c.name, c.source.type])).toEqual([
      ['a', 'rpicam'],
      ['b', 'rpicam'],
      ['c', 'rpicam'],
    ]);
  });

  it('a config path that is a FIFO, a device or a directory is refused at once, without reading it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-config-special-'));
    const fifo = join(dir, 'faceedge.yaml');
    execFileSync('mkfifo', [fifo]);
    expect(checkConfig(fifo, {}).errors).toEqual([`cannot read config file ${fifo}: it is not a regular file`]);
    expect(checkConfig('/dev/zero', {}).errors).toEqual([
      'cannot read config file /dev/zero: it is not a regular file',
    ]);
    expect(checkConfig(dir, {}).errors).toEqual([`cannot read config file ${dir}: it is a directory`]);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
    expect(checkConfig(big, {}).errors[0]).toMatch(/big\.yaml: it is \d+ bytes, more than 1048576/);
  });

  it('run defaults apply only where the file sets nothing, and env and flags override them', () => {
    const defaults = { 'http.port': 9464, 'http.host': '127.0.0.1' };
    expect(loadConfig({ env: {}, defaults }).http).toMatchObject({ port: 9464, host: '127.0.0.1' });
    const file = writeYaml('http: { port: 8080 }\n');
    expect(loadConfig({ file, env: {}, defaults }).http).toMatchObject({ port: 8080, host: '127.0.0.1' });
    expect(loadConfig({ env: { FACEEDGE_HTTP__PORT: '7000' }, defaults }).http.port).toBe(7000);
    expect(loadConfig({ env: {}, defaults, flags: { 'http.port': '0' } }).http.port).toBe(0);
  });
});

describe('recognition section', () => {
  it('is off by default, with the gallery under state_dir', () => {
    const cfg = loadConfig({ env: {}, flags: { state_dir: '/var/lib/faceedge' }, hostname: 'pi' });
    expect(cfg.recognition.enabled).toBe(false);
    expect(cfg.recognition.gallery).toBe('/var/lib/faceedge/faces.gallery');
    expect(cfg.recognition.embeddings_per_track).toBe(3);
  });

  it('refuses enabled without a key file: the board gallery is never plain', () => {
    expect(() => loadConfig({ env: {}, flags: { 'recognition.enabled': true }, hostname: 'pi' })).toThrow(
      /recognition\.key_file/,
    );
  });

  it('takes a site false-accept rate only inside (0, 1)', () => {
    expect(() => loadConfig({ env: {}, flags: { 'recognition.far': 0 }, hostname: 'pi' })).toThrow(/recognition\.far/);
    expect(loadConfig({ env: {}, flags: { 'recognition.far': 0.0001 }, hostname: 'pi' }).recognition.far).toBe(0.0001);
  });
});
