/**
 * The live view's picture feed: nothing without viewers; a camera's JPEG passed on untouched with its
 * tracks as data; the camera's own rate shown up to the cap (a 12 fps camera used to get 6 pictures a
 * second through a fixed 100 ms gap); one encode at a time for pixel frames, the newest frame next.
 */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { liveTracks, OverlayFeed, type OverlayPicture } from '../../src/live-view/overlay-feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { VisibleTrack } from '../../src/pipeline/face-tracker.js';

const track: VisibleTrack = {
  id: 'door-7',
  camera: 'door',
  box: { x: 40.04, y: 30, width: 30, height: 30 },
  face_area: 900,
  class: 'female',
  score: 0.93412,
  top_score: 0.97,
  frames: 12,
  start_time: 1,
  end_time: null,
  model: 'm',
  confirmed: true,
};
const LABELS = ['female', 'male'];
const rgbFrame = (seq: number): Frame => ({
  seq,
  timestampMs: 0,
  wallTimeMs: 0,
  image: { kind: 'rgb', data: Buffer.alloc(64 * 48 * 3, 50), width: 64, height: 48 },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('liveTracks', () => {
  it('gives the page what it draws: id, class, rounded score and box, confirmation and the colour index', () => {
    expect(liveTracks([track, { ...track, id: 'door-8', class: 'unknown', confirmed: false }], LABELS)).toEqual([
      {
        id: 'door-7',
        class: 'female',
        score: 0.934,
        confirmed: true,
        label_index: 0,
        box: { x: 40, y: 30, width: 30, height: 30 },
      },
      {
        id: 'door-8',
        class: 'unknown',
        score: 0.934,
        confirmed: false,
        label_index: -1,
        box: { x: 40, y: 30, width: 30, height: 30 },
      },
    ]);
  });
});

describe('OverlayFeed', () => {
  it('encodes nothing and never asks for the tracks while nobody watches', async () => {
    const feed = new OverlayFeed({ labels: () => LABELS, log: silentLogger() });
    let asked = 0;
    for (let i = 0; i < 20; i++) feed.offer(rgbFrame(i), () => (asked++, [track]));
    await sleep(50);
    expect([feed.encodedCount, asked, feed.latest]).toEqual([0, 0, null]);
  });

  it("passes a camera's JPEG on as it came, with the tracks as ASCII JSON", async () => {
    const feed = new OverlayFeed({ labels: () => ['weiblich', 'männlich'], log: silentLogger() });
    const pictures: OverlayPicture[] = [];
    feed.subscribe((p) => pictures.push(p));
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#404040' } })
      .jpeg()
      .toBuffer();
    const frame: Frame = { seq: 3, timestampMs: 0, wallTimeMs: 7, image: { kind: 'encoded', data: jpeg, origin: 'x' } };
    feed.offer(frame, () => [{ ...track, class: 'männlich' }]);
    expect(pictures).toHaveLength(1); // synchronously: nothing to encode
    expect(pictures[0]!.jpeg.equals(jpeg)).toBe(true);
    expect(pictures[0]!.jpeg).not.toBe(jpeg); // a copy the viewers share, whatever happens to the frame
    expect(pictures[0]).toMatchObject({ seq: 3, wallTimeMs: 7, faces: 1 });
    expect(pictures[0]!.tracksJson).toMatch(/^[\x20-\x7e]+$/);
    expect(JSON.parse(pictures[0]!.tracksJson)).toEqual([
      expect.objectContaining({ class: 'männlich', label_index: 1 }),
    ]);
  });

  it('shows a 12 fps camera at its own rate: every frame, not every second one', async () => {
    const feed = new OverlayFeed({ labels: () => LABELS, log: silentLogger() });
    const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const seqs: number[] = [];
    feed.subscribe((p) => seqs.push(p.seq));
    // 24 frames 83 ms apart, with ±10 ms of jitter (timers on a loaded machine are late, never early).
    for (let seq = 0; seq < 24; seq++) {
      feed.offer({ seq, timestampMs: 0, wallTimeMs: 0, image: { kind: 'encoded', data: jpeg, origin: 'x' } }, () => []);
      await sleep(seq % 2 ? 73 : 93);
    }
    expect(seqs).toEqual([...Array(24).keys()]);
  });

  it('caps a faster source at maxFps, evenly, however fast frames come', async () => {
    const feed = new OverlayFeed({ labels: () => LABELS, log: silentLogger(), maxFps: 20 });
    const jpeg = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#000' } })
      .jpeg()
      .toBuffer();
    const seqs: number[] = [];
    feed.subscribe((p) => seqs.push(p.seq));
    const started = performance.now();
    for (let seq = 0; performance.now() - started < 500; seq++) {
      feed.offer({ seq, timestampMs: 0, wallTimeMs: 0, image: { kind: 'encoded', data: jpeg, origin: 'x' } }, () => []);
      await sleep(2);
    }
    const elapsed = (performance.now() - started) / 1000;
    // 20 a second plus the burst of 2; a loaded machine may make fewer, never more.
    expect(seqs.length).toBeGreaterThan(3);
    expect(seqs.length).toBeLessThanOrEqual(Math.ceil(elapsed * 20) + 2);
  });

  it('encodes pixel frames one at a time; a frame offered meanwhile is encoded next, the newest one', async () => {
    const feed = new OverlayFeed({ labels: () => LABELS, log: silentLogger(), maxFps: Infinity });
    const seqs: number[] = [];
    feed.subscribe((p) => seqs.push(p.seq));
    for (let seq = 0; seq < 5; seq++) feed.offer(rgbFrame(seq), () => [track]);
    await sleep(300);
    // 0 was being encoded; 1, 2 and 3 were each replaced by a newer one; 4 came next.
    expect(seqs).toEqual([0, 4]);
    const { info } = await sharp(feed.latest!.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 48]);
    expect(JSON.parse(feed.latest!.tracksJson)).toHaveLength(1);
  });
});
