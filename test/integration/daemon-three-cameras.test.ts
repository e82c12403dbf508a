/**
 * Several cameras share one detector and one classifier. Three cameras play three different stills
 * (the astronaut photo, its mirror image, and the photo shifted right on a wider canvas) as fast as
 * the pipeline takes them, against real Mosquitto: every event of a camera must carry a box on that
 * camera's face — a box from another camera's frame would sit elsewhere.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const ASTRONAUT = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const SHIFT = 160;

interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}
function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  return w <= 0 || h <= 0 ? 0 : (w * h) / (a.width * a.height + b.width * b.height - w * h);
}

describe.skipIf(!classifier)(`three cameras on one board (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let probe: MqttProbe;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-three-cameras-'));
    const { width = 0, height = 0 } = await sharp(ASTRONAUT).metadata();
    await sharp(ASTRONAUT).flop().png().toFile(join(dir, 'mirrored.png'));
    await sharp(ASTRONAUT).extend({ left: SHIFT, background: '#777' }).png().toFile(join(dir, 'shifted.png'));
    expect(width * height).toBeGreaterThan(0);
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every event of every camera carries a box on that camera's own face", async () => {
    const { width = 0 } = await sharp(ASTRONAUT).metadata();
    const stills = { plain: ASTRONAUT, mirrored: join(dir, 'mirrored.png'), shifted: join(dir, 'shifted.png') };
    probe = await MqttProbe.connect(broker.url, [`faceedge/${TEST_DEVICE}/+/events`]);
    // update_interval_ms 0 and a tiny score delta: an update for nearly every frame whose box moved.
    const cameras = Object.entries(stills).map(([name, path]) => ({
      name,
      source: { type: 'image', path, loop: true, fps: 0 },
    }));
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras,
      extra: {
        detector: { model: 'short' },
        tracker: { update_interval_ms: 0, min_frames: 1, iou_threshold: 0.9, max_missed_frames: 0 },
      },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: classifier!, file: 'three.yaml' });
    await daemon.waitForLog((l) => l.msg === 'faceedge running', 60_000);
    // Let all three run concurrently for a while, then stop: `end` events close every track.
    await new Promise((r) => setTimeout(r, 6_000));
    daemon.signal('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));

    const byCamera = new Map<string, Box[]>();
    for (const m of probe.messages) {
      const event = JSON.parse(m.text) as { after: { camera: string; box: Box } };
      byCamera.set(event.after.camera, [...(byCamera.get(event.after.camera) ?? []), event.after.box]);
    }
    expect([...byCamera.keys()].sort()).toEqual(['mirrored', 'plain', 'shifted']);
    const [first] = byCamera.get('plain')!;
    const expected: Record<string, Box> = {
      plain: first,
      mirrored: { ...first, x: width - first.x - first.width },
      shifted: { ...first, x: first.x + SHIFT },
    };
    for (const [camera, boxes] of byCamera) {
      // Crossed-over frames would give every camera several tracks at the other cameras' positions.
      for (const box of boxes)
        expect(iou(box, expected[camera]), `${camera}: ${JSON.stringify(box)}`).toBeGreaterThan(0.8);
    }
  }, 120_000);
});
