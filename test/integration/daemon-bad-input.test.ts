/**
 * Bad input to the real daemon: a camera program that writes corrupt frames and then crashes, files that
 * are cut short, and a configuration with many mistakes. The daemon logs what went wrong, keeps the
 * rest running, and never shows a stack trace; a bad configuration starts nothing at all.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, runFaceedge, TEST_DEVICE } from '../helpers/daemon-process.js';
import { canConnect, freePort, Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { hasStackTrace, REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const WALKING = join(REPO_ROOT, 'demo/clips/face-demographics-walking.gif');
const CORRUPT_CAMERA = join(REPO_ROOT, 'test/stand-ins/mjpeg-corrupt-camera');
const ROOT = `faceedge/${TEST_DEVICE}`;

describe.skipIf(!classifier)(`the daemon under bad input (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  let broker: Mosquitto | null = null;
  let probe: MqttProbe | null = null;
  let daemon: DaemonProcess | null = null;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-bad-'));
  });
  afterEach(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    daemon = probe = broker = null;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function start(name: string, cameras: { name: string; source: Record<string, unknown> }[]) {
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
    const config = daemonConfig({ brokerUrl: broker.url, stateDir: join(dir, name), cameras });
    daemon = DaemonProcess.start(config, { dir, classifier: classifier!, file: `${name}.yaml` });
    await daemon.waitRunning();
    return { probe, daemon };
  }

  it('mjpeg_process: corrupt frames are logged and skipped, events keep flowing; a crashed camera program is restarted (capture offline → online)', async () => {
    const { probe, daemon } = await start('mjpeg', [
      { name: 'cam', source: { type: 'mjpeg_process', command: CORRUPT_CAMERA, args: [WALKING] } },
    ]);
    const capture = `${ROOT}/cam/status/capture`;

    // 1. The two broken frames: the parser drops the cut one, the decoder refuses the 0x0 one.
    const truncated = await daemon.waitForLog(
      (l) => l.msg === 'capture problem' && /frame truncated/.test(String(l.err)),
      30_000,
      'the truncated frame',
    );
    expect(truncated).toMatchObject({ level: 40, camera: 'cam', code: 'IMAGE_UNREADABLE' });
    const undecodable = await daemon.waitForLog((l) => l.msg === 'frame skipped', 10_000, 'the undecodable frame');
    expect(String(undecodable.err)).toMatch(/cannot read image cam#\d+/);
    // A face first seen after the corruption: the pipeline carried on.
    const corruptAt = Number(undecodable.time) / 1000;
    const later = await probe.waitUntil(
      () =>
        eventsOn(probe.messages, `${ROOT}/cam/events`).find((e) => e.type === 'new' && e.after.start_time > corruptAt),
      20_000,
      'a new track after the corrupt frames',
    );
    expect(later.after.camera).toBe('cam');

    // 2. The program exits 3: capture goes offline with its stderr as the reason, then it is restarted.
    const offline = await daemon.waitForLog(
      (l) => l.msg === 'capture status' && l.state === 'offline' && /exited with code 3/.test(String(l.reason)),
      20_000,
      'the crash',
    );
    expect(String(offline.reason)).toContain('mjpeg-corrupt-camera: simulated camera crash');
    await daemon.waitForLog(
      (l) => l.msg === 'capture problem' && l.code === 'SOURCE_FAILED' && /restarting in \d+ ms/.test(String(l.err)),
      5000,
      'the restart with backoff',
    );
    const back = await daemon.waitForLog(
      (l) => l.msg === 'capture status' && l.state === 'online' && l.seenAt >= offline.seenAt,
      15_000,
      'capture back online',
    );
    expect(Number(back.time)).toBeGreaterThan(Number(offline.time));
    await probe.waitUntil(
      () =>
        probe.messages
          .filter((m) => m.topic === capture)
          .map((m) => m.text)
          .join(',')
          .endsWith('online,offline,online'),
      5000,
      'capture online → offline → online',
    );
    await probe.waitUntil(
      () =>
        eventsOn(probe.messages, `${ROOT}/cam/events`).find(
          (e) => e.type === 'new' && e.after.start_time > Number(back.time) / 1000,
        ),
      20_000,
      'a new track from the restarted program',
    );

    expect(daemon.exitStatus).toBeNull();
    expect(daemon.logs.filter((l) => l.level >= 50)).toEqual([]);
    daemon.signal('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
  });

  it('a truncated JPEG and a truncated GIF: each camera fails with a clear error, the good camera runs on, then exit 1 naming them, no stack trace', async () => {
    const jpeg = join(dir, 'cut.jpg');
    const gif = join(dir, 'cut.gif');
    // A real JPEG (the astronaut scene) cut after 3000 bytes, and the walking clip cut inside its header.
    const whole = await sharp(join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png')).jpeg({ quality: 90 }).toBuffer();
    writeFileSync(jpeg, whole.subarray(0, 3000));
    writeFileSync(gif, readFileSync(WALKING).subarray(0, 100));

    const { probe, daemon } = await start('truncated', [
      { name: 'good', source: { type: 'gif', path: WALKING, fps: 0 } },
      { name: 'cutjpeg', source: { type: 'image', path: jpeg } },
      { name: 'cutgif', source: { type: 'gif', path: gif } },
    ]);
    for (const [camera, path] of [
      ['cutjpeg', jpeg],
      ['cutgif', gif],
    ] as const) {
      const failed = daemon.logs.find(
        (l) => l.msg === 'camera failed to start; the other cameras keep running' && l.camera === camera,
      );
      expect(failed, `${camera} start failure logged\n${daemon.describe()}`).toBeDefined();
      expect(failed).toMatchObject({ level: 50, code: 'IMAGE_UNREADABLE' });
      expect(String(failed!.err)).toContain(path);
    }
    expect(String(daemon.logs.find((l) => l.camera === 'cutjpeg' && l.level === 50)!.err)).toMatch(
      /premature end of JPEG/i,
    );

    const exit = await daemon.exited;
    expect(exit.code, daemon.describe()).toBe(1);
    expect(daemon.stderr).toMatch(/camera\(s\) could not start:\n\s+cutjpeg: .*cut\.jpg.*\n\s+cutgif: .*cut\.gif/);
    expect(hasStackTrace(daemon.stderr)).toBe(false);

    // The good camera was processed to its end and the stop was clean.
    await probe.waitFor(
      (m) => m.topic === `${ROOT}/availability` && m.text === 'offline',
      5000,
      'availability offline',
    );
    const good = eventsOn(probe.messages, `${ROOT}/good/events`);
    expect(good.some((e) => e.type === 'new')).toBe(true);
    expect(good.at(-1)!.type).toBe('end');
    for (const camera of ['cutjpeg', 'cutgif']) {
      expect(probe.messages.filter((m) => m.topic === `${ROOT}/${camera}/status/capture`).map((m) => m.text)).toEqual([
        'offline',
      ]);
      expect(probe.messages.some((m) => m.topic === `${ROOT}/${camera}/events`)).toBe(false);
    }
  });

  it('an invalid config: run and config check exit 2 listing every error with its path, and run starts nothing', async () => {
    const brokerPort = await freePort();
    const httpPort = await freePort();
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        `embedded_broker: { port: ${brokerPort} }`,
        `http: { port: ${httpPort}, hots: 127.0.0.1 }`,
        'mqtt: { keepalive: 0, base_topic: "a/#" }',
        'detector: { model: huge }',
        'tracker: { min_frames: two }',
        'cameras:',
        '  - name: door',
        '    source: { type: rpicam, rotation: 90 }',
        '  - name: "yard cam"',
        '    source: { type: gif, path: x.gif, fps: -2 }',
        'logging: { level: debug }',
      ].join('\n'),
    );
    const expected = [
      'cameras.0.source.rotation',
      'cameras.1.name',
      'cameras.1.source.fps',
      'detector.model',
      'http.hots',
      'logging',
      'mqtt.base_topic',
      'mqtt.keepalive',
      'tracker.min_frames',
    ];

    let sawPort = false;
    const run = runFaceedge(['run', '--config', file], { timeoutMs: 30_000 });
    let done = false;
    void run.then(() => (done = true));
    while (!done) {
      if ((await canConnect(brokerPort)) || (await canConnect(httpPort))) sawPort = true;
      await new Promise((r) => setTimeout(r, 20));
    }
    const result = await run;
    expect(result.code, result.stderr).toBe(2);
    expect(sawPort).toBe(false);
    // Not one log line: no component was even built.
    expect(result.stdout).toBe('');
    expect(hasStackTrace(result.stderr)).toBe(false);
    // One `  path: message` line per problem (the `  hint:` line is not one).
    const listed = (text: string) =>
      [...text.matchAll(/^\s+([a-z_.0-9]+): /gm)]
        .map((m) => m[1])
        .filter((p) => p !== 'hint')
        .sort();
    expect(listed(result.stderr)).toEqual(expected);

    const check = await runFaceedge(['config', 'check', file]);
    expect(check.code, check.stderr).toBe(2);
    expect(check.stderr).toContain('has 9 problem(s)');
    expect(listed(check.stderr)).toEqual(expected);
    expect(hasStackTrace(check.stderr)).toBe(false);
  });
});
