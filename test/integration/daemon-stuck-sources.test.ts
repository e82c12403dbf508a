/**
 * Inputs that used to hang or flood the real daemon: a FIFO as an `image` camera blocked the start of
 * every camera after it and, after SIGTERM, the exit itself; `/dev/zero` as a camera grew memory without
 * bound; a looping folder warned about the same bad files on every pass; a cut JPEG said "Unknown error"
 * as a camera but "premature end" in `classify`. Each camera now starts on its own, the bad ones fail at
 * once with a clear reason, and SIGTERM ends the process.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, runFaceedge, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { hasStackTrace, REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const WALKING = join(REPO_ROOT, 'demo/clips/face-demographics-walking.gif');
const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const ROOT = `faceedge/${TEST_DEVICE}`;

describe.skipIf(!classifier)(
  `the daemon with stuck and flooding inputs (${classifier ?? NO_CLASSIFIER_REASON})`,
  () => {
    let dir: string;
    let broker: Mosquitto | null = null;
    let probe: MqttProbe | null = null;
    let daemon: DaemonProcess | null = null;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-stuck-'));
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
      return { probe, daemon };
    }

    it('a FIFO, /dev/zero and a cut JPEG as cameras fail at once with clear reasons; the good camera after them runs; SIGTERM exits', async () => {
      const fifo = join(dir, 'camera.fifo');
      execFileSync('mkfifo', [fifo]);
      const cut = join(dir, 'trunc.jpg');
      const whole = await sharp(ASTRONAUT).jpeg({ quality: 90 }).toBuffer();
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));

      const { probe, daemon } = await start('stuck', [
        { name: 'fifo', source: { type: 'image', path: fifo, loop: true } },
        { name: 'zero', source: { type: 'image', path: '/dev/zero', loop: true } },
        { name: 'cut', source: { type: 'image', path: cut } },
        { name: 'good', source: { type: 'gif', path: WALKING, loop: true } },
      ]);
      await daemon.waitRunning(60_000);
      const failure = (camera: string) =>
        daemon.logs.find(
          (l) => l.msg === 'camera failed to start; the other cameras keep running' && l.camera === camera,
        );
      expect(failure('fifo'), daemon.describe()).toMatchObject({
        code: 'IMAGE_UNREADABLE',
        err: `cannot read image ${fifo}: it is a FIFO (named pipe)`,
      });
      expect(failure('zero')).toMatchObject({
        code: 'IMAGE_UNREADABLE',
        err: 'cannot read image /dev/zero: it is a character device',
      });
      // The same words as `classify` gives for the same file.
      const classify = await runFaceedge(['classify', cut, '--json', '--model', classifier!]);
      const classifyMessage = JSON.parse(classify.stdout).error.message;
      expect(classifyMessage).toMatch(/premature end of JPEG image/);
      expect(failure('cut')).toMatchObject({ code: 'IMAGE_UNREADABLE', err: classifyMessage });

      await probe.waitUntil(
        () => eventsOn(probe.messages, `${ROOT}/good/events`).find((e) => e.type === 'new'),
        30_000,
        'a track on the good camera',
      );
      // Nothing read /dev/zero: the daemon's memory is that of a daemon (it used to grow by ~170 MB/s).
      const rss =
        Number(
          execFileSync('ps', ['-o', 'rss=', '-p', String(daemon.pid)])
            .toString()
            .trim(),
        ) * 1024;
      expect(rss).toBeLessThan(600 * 2 ** 20);

      daemon.signal('SIGTERM');
      const exited = await Promise.race([
        daemon.exited,
        new Promise((resolve) => setTimeout(() => resolve('still running 15 s after SIGTERM'), 15_000)),
      ]);
      expect(exited, daemon.describe()).toEqual({ code: 0, signal: null });
      expect(hasStackTrace(daemon.stderr)).toBe(false);
    }, 120_000);

    it('a looping folder warns once per bad file (unreadable or corrupt), not on every pass', async () => {
      const folder = join(dir, 'frames');
      mkdirSync(folder);
      const whole = await sharp(ASTRONAUT).jpeg({ quality: 90 }).toBuffer();
      const corrupt = Buffer.from(whole);
      const scan = corrupt.indexOf(Buffer.from([0xff, 0xda]));
      for (let i = scan + 2000; i < scan + 6000; i++) corrupt[i] = (i * 7919) & 0xff;
      writeFileSync(join(folder, '1-corrupt.jpg'), corrupt);
      writeFileSync(join(folder, '2-notes.jpg'), 'not a picture');
      copyFileSync(ASTRONAUT, join(folder, '3-good.png'));

      const { daemon } = await start('folder', [
        { name: 'frames', source: { type: 'folder', path: folder, loop: true, fps: 30 } },
      ]);
      await daemon.waitRunning(60_000);
      // At 30 files/s the folder goes round 10 times a second; wait for many passes.
      await daemon.waitForLog((l) => l.msg === 'faceedge running', 1000);
      await new Promise((r) => setTimeout(r, 4000));
      const metrics = daemon.logs.filter((l) => l.camera === 'frames');
      const problems = metrics.filter((l) => l.msg === 'capture problem');
      const skipped = metrics.filter((l) => l.msg === 'frame skipped');
      expect(
        problems.map((l) => l.err),
        daemon.describe(),
      ).toEqual([expect.stringContaining('2-notes.jpg')]);
      expect(skipped.map((l) => l.err)).toEqual([
        expect.stringMatching(/1-corrupt\.jpg: corrupt image data, cannot decode/),
      ]);
      daemon.signal('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
    }, 120_000);
  },
);
