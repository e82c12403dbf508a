import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { Frame } from '../../src/capture/frame.js';
import { drawText, textWidth } from '../../src/live-view/bitmap-font.js';
import { CLASS_COLOURS, drawTracks, TENTATIVE_COLOUR, trackLabel } from '../../src/live-view/draw-tracks.js';
import { OverlayFeed } from '../../src/live-view/overlay-feed.js';
import { silentLogger } from '../../src/observability/logger.js';
import type { VisibleTrack } from '../../src/pipeline/face-tracker.js';

const track: VisibleTrack = {
  id: 'door-7',
  camera: 'door',
  box: { x: 40, y: 30, width: 30, height: 30 },
  face_area: 900,
  class: 'female',
  score: 0.934,
  top_score: 0.97,
  frames: 12,
  start_time: 1,
  end_time: null,
  model: 'm',
  confirmed: true,
};
const image = (width = 120, height = 90) => ({
  kind: 'rgb' as const,
  data: Buffer.alloc(width * height * 3, 50),
  width,
  height,
});
const pixel = (img: ReturnType<typeof image>, x: number, y: number) => [
  ...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3),
];

describe('overlay drawing', () => {
  it('labels a track with id, class and confidence; an unconfirmed one ends in ?', () => {
    expect(trackLabel(track)).toBe('door-7 female 93%');
    expect(trackLabel({ ...track, confirmed: false })).toBe('door-7 female 93% ?');
  });

  it('draws the box in the class colour (grey while unconfirmed), clipped at the frame edges', () => {
    const img = image();
    drawTracks(
      img,
      [track, { ...track, id: 'door-8', class: 'male', box: { x: 100, y: 70, width: 40, height: 40 } }],
      ['female', 'male'],
    );
    expect(pixel(img, 39, 45)).toEqual([...CLASS_COLOURS[0]]); // left edge of the first box
    expect(pixel(img, 55, 45)).toEqual([50, 50, 50]); // inside it: the picture
    expect(pixel(img, 99, 80)).toEqual([...CLASS_COLOURS[1]]); // the second box, past the frame's edge
    const tentative = image();
    drawTracks(tentative, [{ ...track, confirmed: false }], ['female', 'male']);
    expect(pixel(tentative, 39, 45)).toEqual([...TENTATIVE_COLOUR]);
  });

  it('writes glyphs pixel by pixel, unknown characters as ?', () => {
    const img = image(40, 10);
    drawText(img, 0, 0, '1', [255, 255, 255]);
    // Row 0 of "1" is ..#..
    expect(pixel(img, 2, 0)).toEqual([255, 255, 255]);
    expect(pixel(img, 0, 0)).toEqual([50, 50, 50]);
    const a = image(40, 10),
      b = image(40, 10);
    drawText(a, 0, 0, '\u00e9', [255, 255, 255]);
    drawText(b, 0, 0, '?', [255, 255, 255]);
    expect(a.data.equals(b.data)).toBe(true);
    expect(textWidth('ab', 2)).toBe(22);
  });
});

describe('OverlayFeed', () => {
  const frame = (seq: number): Frame => ({ seq, timestampMs: 0, wallTimeMs: 0, image: image(64, 48) });

  it('encodes nothing and never asks for the tracks while nobody watches', async () => {
    const feed = new OverlayFeed({ labels: () => ['female', 'male'], log: silentLogger() });
    let asked = 0;
    for (let i = 0; i < 20; i++) feed.offer(frame(i), () => (asked++, [track]));
    await new Promise((r) => setTimeout(r, 50));
    expect([feed.encodedCount, asked, feed.latest]).toEqual([0, 0, null]);
  });

  it('caps pictures at maxFps however fast frames come, one encode at a time', async () => {
    const feed = new OverlayFeed({ labels: () => ['female', 'male'], log: silentLogger(), maxFps: 10 });
    const seqs: number[] = [];
    feed.subscribe((p) => seqs.push(p.seq));
    const started = performance.now();
    for (let i = 0; performance.now() - started < 250; i++) {
      feed.offer(frame(i), () => [track]);
      await new Promise((r) => setTimeout(r, 2));
    }
    await new Promise((r) => setTimeout(r, 100));
    const elapsed = performance.now() - started;
    // At most one picture per 100 ms (plus the first); a loaded machine may make fewer, never more.
    expect(seqs.length).toBeGreaterThan(0);
    expect(seqs.length).toBeLessThanOrEqual(Math.floor(elapsed / 100) + 1);
    expect(seqs[0]).toBe(0);
    const { info } = await sharp(feed.latest!.jpeg).raw().toBuffer({ resolveWithObject: true });
    expect([info.width, info.height]).toEqual([64, 48]);
  });
});
