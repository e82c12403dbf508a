/**
 * The live view of a board with two models per face (issue 24 §3), in a real headless Chromium: the
 * events list shows every further model's label beside the class, and the overlay's track data (what the
 * page draws over each face) carries every model's attribute.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveTracks } from '../../src/live-view/overlay-feed.js';
import { daemonConfig, DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/free-port.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const INT8 = join(REPO_ROOT, 'models/faceedge-gender_int8.tflite');

describe('live view of two models per face', () => {
  let dir: string;
  let daemon: DaemonProcess;
  let port: number;
  let context: BrowserContext | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-live-several-'));
    port = await freePort();
    const clip = join(REPO_ROOT, 'demo', 'clips', 'face-demographics-walking-and-pause.gif');
    const config = daemonConfig({
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'demo1', source: { type: 'gif', path: clip, loop: true } }],
      httpPort: port,
      extra: {
        classifiers: [
          { name: 'gender', model: INT8 },
          { name: 'second', model: INT8, interval_ms: 1000 },
        ],
      },
    });
    daemon = DaemonProcess.start(config, { dir });
    await daemon.waitRunning(90_000);
  }, 120_000);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await daemon?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists every further model beside the class in the events list', async () => {
    context = await chromium.launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      headless: true,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    expect((await page.goto(`http://127.0.0.1:${port}/live/`))?.status()).toBe(200);
    const events = page.locator('#events li span');
    await expect.poll(() => events.count(), { timeout: 60_000 }).toBeGreaterThan(0);
    const text = (await events.first().textContent()) ?? '';
    expect(text).toMatch(/ (female|male|unknown) \d\.\d\d · second (female|male|unknown) \d+%$/);
  }, 90_000);

  it('gives the page every model of a track to draw', () => {
    const track = {
      id: 'door-1',
      camera: 'door',
      box: { x: 1, y: 2, width: 30, height: 30 },
      face_area: 900,
      class: 'male',
      score: 0.9,
      top_score: 0.95,
      frames: 4,
      start_time: 1,
      end_time: null,
      model: 'm',
      confirmed: true,
      attributes: { gender: { label: 'male', score: 0.9 }, age: { label: '30-44', score: 0.61 } },
    };
    expect(liveTracks([track], ['female', 'male'])[0].attributes).toEqual(track.attributes);
    const { attributes: _, ...single } = track;
    expect(liveTracks([single], ['female', 'male'])[0]).not.toHaveProperty('attributes');
  });
});
