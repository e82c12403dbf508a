/**
 * The live view in a real headless Chromium (Debian's `chromium`, driven by playwright-core; nothing is
 * downloaded): the daemon runs on a bundled demo clip with `http.auth` and snapshots on; without
 * credentials the page is refused with 401, with them it shows boxes over faces in the overlay stream,
 * a growing events list with face crops and the model's sha256 in the board panel. A screenshot goes to
 * `test-output/live-view/`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shippedModelPath } from '../../src/inference/shipped-model.js';
import { CLASS_COLOURS } from '../../src/live-view/draw-tracks.js';
import { daemonConfig, DaemonProcess } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/free-port.js';
import { httpGet } from '../helpers/http-get.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

/** Debian's package (scripts/install-deps.sh installs it); Playwright's own browser builds are never downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const AUTH = { username: 'installer', password: 'aim-the-camera' };
const OUTPUT_DIR = join(REPO_ROOT, 'test-output', 'live-view');

/** Pixels of a PNG screenshot close to one of the box colours (the clip itself has none). */
async function boxColouredPixels(png: Buffer): Promise<number> {
  const { data } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let count = 0;
  for (let i = 0; i < data.length; i += 3) {
    if (
      CLASS_COLOURS.some(
        (c) => Math.abs(data[i] - c[0]) < 50 && Math.abs(data[i + 1] - c[1]) < 50 && Math.abs(data[i + 2] - c[2]) < 50,
      )
    )
      count++;
  }
  return count;
}

describe('live view in headless Chromium', () => {
  let dir: string;
  let daemon: DaemonProcess;
  let port: number;
  const contexts: BrowserContext[] = [];

  const launch = (options: { httpCredentials?: typeof AUTH } = {}) =>
    chromium
      .launchPersistentContext(mkdtempSync(join(dir, 'profile-')), {
        executablePath: CHROMIUM,
        args: CHROMIUM_ARGS,
        headless: true,
        viewport: { width: 1280, height: 800 },
        ...options,
      })
      .then((context) => (contexts.push(context), context));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-live-view-'));
    port = await freePort();
    const clip = join(REPO_ROOT, 'demo', 'clips', 'face-demographics-walking-and-pause.gif');
    const config = daemonConfig({
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'demo1', source: { type: 'gif', path: clip, loop: true } }],
      httpPort: port,
    });
    config.http = { ...(config.http as object), auth: AUTH, snapshots: true };
    daemon = DaemonProcess.start(config, { dir, classifier: shippedModelPath() });
    await daemon.waitRunning(90_000);
  }, 120_000);

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await daemon?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the page without credentials (401) and leaves /healthz open', async () => {
    const bare = await httpGet(port, '/live/');
    expect(bare.status).toBe(401);
    // /healthz answers as before, without credentials (200 or 503 depending on readiness, never 401).
    const health = await httpGet(port, '/healthz');
    expect([200, 503]).toContain(health.status);
    expect(JSON.parse(health.body)).toHaveProperty('ready');
    const context = await launch();
    const page = context.pages()[0]!;
    // Chromium's own network log: Playwright turns a refused challenge into a navigation error, the log keeps the status.
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    const statuses = new Map<string, number>();
    cdp.on('Network.responseReceived', (e) => statuses.set(e.response.url, e.response.status));
    const url = `http://127.0.0.1:${port}/live/`;
    const navigation = await page.goto(url).then(
      (r) => r?.status(),
      (err: Error) => err.message,
    );
    expect(navigation).not.toBe(200);
    expect(statuses.get(url)).toBe(401);
    await context.close();
  }, 60_000);

  it('with credentials shows boxes over faces, a growing events list with face crops and the model sha256', async () => {
    const context = await launch({ httpCredentials: AUTH });
    const page = context.pages()[0]!;
    const response = await page.goto(`http://127.0.0.1:${port}/live/`);
    expect(response?.status()).toBe(200);

    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'manifest.json'), 'utf8')) as {
      files: { int8: { sha256: string } };
    };
    await expect
      .poll(() => page.locator('#model-sha256').textContent(), { timeout: 20_000 })
      .toBe(manifest.files.int8.sha256);
    await expect.poll(() => page.locator('#delegate').textContent(), { timeout: 5_000 }).toContain('xnnpack');

    const camera = page.locator('figure[data-camera="demo1"] img');
    await expect
      .poll(async () => boxColouredPixels(await camera.screenshot()), { timeout: 30_000, interval: 500 })
      .toBeGreaterThan(200);

    const events = page.locator('#events li');
    await expect.poll(() => events.count(), { timeout: 30_000 }).toBeGreaterThan(0);
    const first = await events.count();
    await expect.poll(() => events.count(), { timeout: 30_000 }).toBeGreaterThan(first);
    await expect.poll(() => page.locator('#events li img').count(), { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await page.locator('figure[data-camera="demo1"] .capture').textContent()).toBe('online');
    expect(await page.locator('figure[data-camera="demo1"] .paused').isHidden()).toBe(true);

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'live-view.png'), fullPage: true });
    await context.close();
  }, 120_000);
});
