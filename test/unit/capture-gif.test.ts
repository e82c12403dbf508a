import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeGifBlocks } from '../../src/capture/gif-blocks.js';
import { GifComposer } from '../../src/capture/gif-composer.js';
import { GifSource } from '../../src/capture/gif-source.js';
import type { RgbImage } from '../../src/capture/frame.js';
import { isFaceedgeError } from '../../src/errors.js';
import { RecordingSink, SCENES } from '../helpers/capture-sink.js';
import { tinyGif } from '../helpers/tiny-gif.js';

const WALKING = join(SCENES, 'face-demographics-walking.gif');

const pixel = (image: RgbImage, x: number, y: number): number[] => {
  const o = (y * image.width + x) * 3;
  return [image.data[o], image.data[o + 1], image.data[o + 2]];
};

/** ffmpeg's own decoding of every frame, as one rgb24 buffer. */
const ffmpegFrames = (path: string): Buffer =>
  execFileSync('ffmpeg', ['-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 28,
  });

describe('GifComposer', () => {
  it('composes the walking clip into 35 full 480x270 frames with known colours', () => {
    const gif = GifComposer.fromBuffer(readFileSync(WALKING));
    expect([gif.width, gif.height, gif.frameCount]).toEqual([480, 270, 35]);
    const frames = [...gif.frames()];
    expect(frames).toHaveLength(35);
    for (const f of frames) expect(f.image.data.length).toBe(480 * 270 * 3);
    expect(frames.slice(0, 3).map((f) => f.delayMs)).toEqual([80, 90, 80]);
    // Reference values read from ffmpeg's decoding of the same file.
    expect(pixel(frames[0].image, 10, 10)).toEqual([99, 94, 92]);
    expect(pixel(frames[20].image, 240, 135)).toEqual([146, 135, 125]);
    expect(pixel(frames[34].image, 400, 50)).toEqual([210, 218, 231]);
  });

  it('matches ffmpeg bit for bit on every frame of both sample clips (patches over transparency)', () => {
    for (const name of ['face-demographics-walking.gif', 'head-pose-face-detection-female-and-male.gif']) {
      const path = join(SCENES, name);
      const gif = GifComposer.fromBuffer(readFileSync(path));
      const reference = ffmpegFrames(path);
      const size = gif.width * gif.height * 3;
      const frames = [...gif.frames()];
      expect(frames.length * size).toBe(reference.length);
      frames.forEach((f, i) => {
        if (!f.image.data.equals(reference.subarray(i * size, (i + 1) * size))) {
          throw new Error(`${name}: frame ${i} differs from ffmpeg`);
        }
      });
    }
  });

  it('applies disposal "restore previous", "restore background" and transparency', () => {
    const [K, R, G, B] = [
      [0, 0, 0],
      [255, 0, 0],
      [0, 255, 0],
      [0, 0, 255],
    ] as [number, number, number][];
    const data = tinyGif(
      4,
      4,
      [K, R, G, B],
      [
        { left: 0, top: 0, width: 4, height: 4, pixels: Array(16).fill(1), disposal: 1 },
        { left: 1, top: 1, width: 2, height: 2, pixels: [2, 2, 2, 2], disposal: 3 },
        { left: 0, top: 0, width: 1, height: 1, pixels: [3], disposal: 2 },
        { left: 2, top: 3, width: 2, height: 1, pixels: [0, 2], disposal: 1, transparentIndex: 0, delayCs: 0 },
      ],
    );
    const frames = [...GifComposer.fromBuffer(data).frames()];
    const grid = (i: number): number[][] =>
      Array.from({ length: 16 }, (_, p) => pixel(frames[i].image, p % 4, Math.floor(p / 4)));
    const expected = (changes: Record<number, number[]>): number[][] =>
      Array.from({ length: 16 }, (_, p) => changes[p] ?? R);
    expect(grid(0)).toEqual(expected({}));
    expect(grid(1)).toEqual(expected({ 5: G, 6: G, 9: G, 10: G }));
    expect(grid(2)).toEqual(expected({ 0: B })); // the green patch was restored away
    expect(grid(3)).toEqual(expected({ 0: K, 15: G })); // blue cleared to background; transparent pixel kept red
    expect(frames.map((f) => f.delayMs)).toEqual([100, 100, 100, 100]);
    // ffmpeg agrees on all four frames.
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-gif-'));
    writeFileSync(join(dir, 'tiny.gif'), data);
    expect(Buffer.concat(frames.map((f) => f.image.data))).toEqual(ffmpegFrames(join(dir, 'tiny.gif')));
  });

  it('refuses a GIF over the pixel limit, a non-GIF and a GIF cut before its first frame', () => {
    const data = readFileSync(WALKING);
    try {
      GifComposer.fromBuffer(data, { maxPixels: 480 * 270 - 1, origin: 'walking' });
      expect.unreachable();
    } catch (err) {
      expect(isFaceedgeError(err, 'IMAGE_TOO_LARGE')).toBe(true);
    }
    expect(() => GifComposer.fromBuffer(Buffer.from('not a GIF at all'))).toThrow(/is not a GIF file/);
    expect(() => GifComposer.fromBuffer(data.subarray(0, 20))).toThrow(/has no frame/);
  });
});

describe('GIF truncation', () => {
  const [K, R, G, B] = [
    [0, 0, 0],
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
  ] as [number, number, number][];
  const tiny = tinyGif(
    4,
    4,
    [K, R, G, B],
    [
      { left: 0, top: 0, width: 4, height: 4, pixels: Array(16).fill(1), disposal: 1 },
      { left: 0, top: 0, width: 4, height: 4, pixels: Array(16).fill(2), disposal: 1 },
    ],
  );

  it('the block walk counts whole frames at every possible cut of a file', () => {
    expect(summarizeGifBlocks(tiny)).toEqual({ wholeImages: 2, cutInsideImage: false, trailer: true });
    const seen = new Set<number>();
    let previous = 0;
    for (let end = 13; end < tiny.length; end++) {
      const { wholeImages, trailer } = summarizeGifBlocks(tiny.subarray(0, end));
      expect(trailer).toBe(false);
      expect(wholeImages).toBeGreaterThanOrEqual(previous); // a longer prefix never holds fewer frames
      previous = wholeImages;
      seen.add(wholeImages);
      // The composer never plays a cut frame: it reports the cut, or refuses a file with no whole frame.
      const { cutInsideImage } = summarizeGifBlocks(tiny.subarray(0, end));
      if (wholeImages === 0) {
        expect(() => GifComposer.fromBuffer(tiny.subarray(0, end))).toThrow(/has no (whole )?frame/);
      } else {
        const gif = GifComposer.fromBuffer(tiny.subarray(0, end));
        expect(gif.frameCount).toBe(wholeImages);
        expect(gif.truncation !== null).toBe(cutInsideImage);
      }
    }
    expect([...seen]).toEqual([0, 1, 2]); // the last cut only loses the trailer byte
  });

  it('drops the cut frame of a truncated clip and composes the others exactly as from the whole file', () => {
    const whole = readFileSync(WALKING);
    expect(GifComposer.fromBuffer(whole).truncation).toBeNull();
    const wholeFrames = [...GifComposer.fromBuffer(whole).frames()];
    for (const fraction of [0.3, 0.6, 0.999]) {
      const gif = GifComposer.fromBuffer(whole.subarray(0, Math.floor(whole.length * fraction)), { origin: 'cut.gif' });
      const frames = [...gif.frames()];
      expect(frames.length).toBe(gif.frameCount);
      expect(gif.frameCount).toBeGreaterThan(0);
      expect(gif.frameCount).toBeLessThan(35);
      expect(gif.truncation).toBe(
        `GIF cut.gif is truncated: the file ends inside frame ${gif.frameCount + 1}; ` +
          `the ${gif.frameCount} frame(s) before it play`,
      );
      frames.forEach((f, i) => expect(f.image.data.equals(wholeFrames[i].image.data)).toBe(true));
    }
    // Cut inside the first frame's data (header 13 + palette 12 + control extension 8 + descriptor 10 bytes).
    expect(() => GifComposer.fromBuffer(tiny.subarray(0, 13 + 12 + 8 + 10 + 4))).toThrow(/has no whole frame/);
  });

  it('a truncated GIF source plays its whole frames, reports the cut once and ends normally', async () => {
    const whole = readFileSync(WALKING);
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-gif-'));
    const path = join(dir, 'cut.gif');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length * 0.3)));
    const expected = GifComposer.fromBuffer(readFileSync(path)).frameCount;
    const sink = new RecordingSink();
    const source = new GifSource({ path, sink, fps: 0 });
    await source.start();
    await sink.until(() => sink.endCount === 1, 'end');
    expect(sink.frames).toHaveLength(expected);
    expect(sink.errors.map((e) => [e.code, e.message])).toEqual([
      ['IMAGE_UNREADABLE', expect.stringMatching(/^GIF .*cut\.gif is truncated: the file ends inside frame/)],
    ]);
    expect(source.stats()).toEqual({ framesOut: expected, skipped: 1, starts: 1 });
    expect(sink.statuses.at(-1)?.reason).toBe('ended');
  });
});

describe('GifSource', () => {
  it('plays all frames at the GIF delays, once, then ends', async () => {
    const sink = new RecordingSink();
    const source = new GifSource({ path: WALKING, sink });
    const t0 = performance.now();
    await source.start();
    await sink.until(() => sink.endCount === 1, 'end');
    const elapsed = performance.now() - t0;
    expect(sink.frames.map((f) => f.seq)).toEqual([...Array(35).keys()]);
    // 35 frames of 80–90 ms play for about 2.9 s (the last frame's delay included).
    expect(elapsed).toBeGreaterThan(2500);
    expect(elapsed).toBeLessThan(6000);
    const stamps = sink.frames.map((f) => f.timestampMs);
    expect(stamps[34] - stamps[0]).toBeGreaterThan(2500);
    expect(Math.abs(sink.frames[0].wallTimeMs - Date.now())).toBeLessThan(10_000);
    expect(sink.states).toEqual(['online', 'offline']);
    expect(sink.statuses[1].reason).toBe('ended');
    expect(source.stats()).toEqual({ framesOut: 35, skipped: 0, starts: 1 });
    await source.stop();
    expect(sink.endCount).toBe(1); // stop() after the end does not end twice
  });

  it('loops until stopped', async () => {
    const sink = new RecordingSink();
    const source = new GifSource({ path: WALKING, sink, loop: true, fps: 0 });
    await source.start();
    await sink.until(() => sink.frames.length >= 80, '80 frames');
    await source.stop();
    expect(sink.endCount).toBe(1);
    expect(sink.statuses.at(-1)?.reason).toBe('stopped');
    expect(sink.frames[35].image).toEqual(sink.frames[0].image); // the second pass starts over
    const seqs = sink.frames.map((f) => f.seq);
    expect(seqs).toEqual([...seqs.keys()]);
  });

  it('rejects start() with a typed error for a missing file', async () => {
    const source = new GifSource({ path: join(SCENES, 'missing.gif'), sink: new RecordingSink() });
    await expect(source.start()).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
  });
});
