import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { FolderSource } from '../../src/capture/folder-source.js';
import { GifSource } from '../../src/capture/gif-source.js';
import { probeImage } from '../../src/capture/probe-image.js';
import { StillImageSource } from '../../src/capture/still-image-source.js';
import { isFaceedgeError } from '../../src/errors.js';
import { RecordingSink, SCENES } from '../helpers/capture-sink.js';

const ASTRONAUT = join(SCENES, 'astronaut.png');

/** A FIFO (named pipe) nobody writes to: a blocking open or read of it never returns. */
function makeFifo(dir: string, name = 'camera.fifo'): string {
  const path = join(dir, name);
  execFileSync('mkfifo', [path]);
  return path;
}

/** Settles with the promise's rejection, or with 'timeout' after `ms` (a hang is a failure, not a stuck test). */
function rejectionWithin(promise: Promise<unknown>, ms: number): Promise<unknown> {
  return Promise.race([
    promise.then(
      () => 'resolved',
      (err: unknown) => err,
    ),
    new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref()),
  ]);
}

describe('probeImage', () => {
  it('reads size and format from the header and enforces the pixel limit', async () => {
    expect(await probeImage(ASTRONAUT)).toEqual({ width: 512, height: 512, format: 'png' });
    await expect(probeImage(ASTRONAUT, { maxPixels: 512 * 512 - 1 })).rejects.toMatchObject({
      code: 'IMAGE_TOO_LARGE',
    });
    await expect(probeImage(Buffer.from('not an image'))).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
  });

  it('refuses a 60 MP PNG from its header, without decoding it', async () => {
    // 10000 x 6000 of one colour compresses to a few KB but would be 180 MB of RGB.
    const big = await sharp({ create: { width: 10_000, height: 6000, channels: 3, background: '#808080' } })
      .png({ compressionLevel: 9 })
      .toBuffer();
    const before = process.memoryUsage().rss;
    await expect(probeImage(big)).rejects.toSatisfy(
      (err) => isFaceedgeError(err, 'IMAGE_TOO_LARGE') && /10000x6000 = 60\.0 MP/.test((err as Error).message),
    );
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * 1024 * 1024);
  });
});

describe('StillImageSource', () => {
  it('emits the decoded image once, then ends', async () => {
    const sink = new RecordingSink();
    const source = new StillImageSource({ path: ASTRONAUT, sink });
    await source.start();
    await sink.until(() => sink.endCount === 1, 'end');
    expect(sink.frames).toHaveLength(1);
    const image = sink.frames[0].image;
    expect(image.kind).toBe('rgb');
    if (image.kind !== 'rgb') return;
    expect([image.width, image.height, image.data.length]).toEqual([512, 512, 512 * 512 * 3]);
    const reference = await sharp(ASTRONAUT).removeAlpha().raw().toBuffer();
    expect(image.data.equals(reference)).toBe(true);
  });

  it('repeats at fps while looping, each frame its own copy', async () => {
    const sink = new RecordingSink();
    const source = new StillImageSource({ path: ASTRONAUT, sink, loop: true, fps: 20 });
    await source.start();
    await sink.until(() => sink.frames.length >= 6, '6 frames');
    await source.stop();
    const stamps = sink.frames.map((f) => f.timestampMs);
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
    // 20 fps = 50 ms apart, on a schedule (no drift), with timer slack on a loaded machine.
    expect((stamps[5] - stamps[0]) / 5).toBeGreaterThan(45);
    expect((stamps[5] - stamps[0]) / 5).toBeLessThan(150);
    expect(Math.min(...gaps)).toBeGreaterThan(20);
    expect(sink.frames[0].image.data).not.toBe(sink.frames[1].image.data);
    expect(sink.endCount).toBe(1);
  });

  it('rejects start() for a missing file, an image over the limit and a non-image', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-still-'));
    writeFileSync(join(dir, 'fake.png'), 'this is text');
    const start = (path: string, maxPixels?: number): Promise<void> =>
      new StillImageSource({ path, maxPixels, sink: new RecordingSink() }).start();
    await expect(start(join(dir, 'missing.png'))).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
    await expect(start(ASTRONAUT, 100_000)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    await expect(start(join(dir, 'fake.png'))).rejects.toMatchObject({ code: 'IMAGE_UNREADABLE' });
  });

  it('refuses a FIFO, /dev/zero and a directory at once, without reading them (a FIFO blocked the daemon for ever)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-still-special-'));
    const fifo = makeFifo(dir);
    const rssBefore = process.memoryUsage().rss;
    for (const [path, kind] of [
      [fifo, 'a FIFO'],
      ['/dev/zero', 'a character device'],
      [dir, 'a directory'],
    ] as const) {
      const still = rejectionWithin(new StillImageSource({ path, sink: new RecordingSink() }).start(), 2000);
      const gif = rejectionWithin(new GifSource({ path, sink: new RecordingSink() }).start(), 2000);
      for (const err of [await still, await gif]) {
        expect(isFaceedgeError(err, 'IMAGE_UNREADABLE'), `${path}: ${String(err)}`).toBe(true);
        expect((err as Error).message).toContain(`${path}: it is ${kind}`);
      }
    }
    // /dev/zero was never read: nothing near its old growth (1.5 GB in 9 s).
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(50 * 2 ** 20);
  });

  it('refuses a file over the size limit before reading it, and says so for a name that is not valid UTF-8', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-still-limit-'));
    const big = join(dir, 'big.jpg');
    writeFileSync(big, Buffer.alloc(2 * 2 ** 20));
    const { readImageFile } = await import('../../src/capture/read-image-file.js');
    await expect(readImageFile(big, { maxBytes: 2 ** 20 })).rejects.toSatisfy(
      (err) => isFaceedgeError(err, 'IMAGE_TOO_LARGE') && /2\.0 MiB, more than the limit of 1\.0 MiB/.test(String(err)),
    );
    // What Node makes of a Latin-1 "é" in a command-line argument or a directory listing.
    const lossy = join(dir, 'caf\uFFFD.jpg');
    await expect(new StillImageSource({ path: lossy, sink: new RecordingSink() }).start()).rejects.toSatisfy(
      (err) => isFaceedgeError(err, 'IMAGE_UNREADABLE') && /name is not valid UTF-8/.test(String(err)),
    );
    await expect(
      new StillImageSource({ path: join(dir, 'missing.jpg'), sink: new RecordingSink() }).start(),
    ).rejects.toThrow(/missing\.jpg: no such file/);
  });
});

describe('FolderSource', () => {
  async function makeFolder(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-folder-'));
    copyFileSync(ASTRONAUT, join(dir, 'img10.png'));
    await sharp({ create: { width: 64, height: 48, channels: 3, background: '#ff0000' } })
      .jpeg()
      .toFile(join(dir, 'img2.jpg'));
    writeFileSync(join(dir, 'img3.jpg'), 'not a jpeg'); // unreadable: reported and skipped
    await sharp({ create: { width: 3000, height: 2000, channels: 3, background: '#00ff00' } })
      .png()
      .toFile(join(dir, 'img4.png')); // 6 MP: over the limit given below
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    return dir;
  }

  it('plays images in numeric-aware name order, skipping unreadable and oversized ones', async () => {
    const dir = await makeFolder();
    const sink = new RecordingSink();
    const source = new FolderSource({ path: dir, sink, fps: 0, maxPixels: 5_000_000 });
    await source.start();
    await sink.until(() => sink.endCount === 1, 'end');
    const origins = sink.frames.map((f) => (f.image.kind === 'encoded' ? f.image.origin : ''));
    expect(origins).toEqual([join(dir, 'img2.jpg'), join(dir, 'img10.png')]);
    expect(sink.errors.map((e) => e.code)).toEqual(['IMAGE_UNREADABLE', 'IMAGE_TOO_LARGE']);
    expect(sink.errors[0].message).toContain('img3.jpg');
    expect(source.stats()).toEqual({ framesOut: 2, skipped: 2, starts: 1 });
    expect(sink.statuses.at(-1)?.reason).toBe('ended');
  });

  it('loops over the folder, and ends instead of spinning when nothing in it is readable', async () => {
    const dir = await makeFolder();
    const sink = new RecordingSink();
    const source = new FolderSource({ path: dir, sink, fps: 0, loop: true, maxPixels: 5_000_000 });
    await source.start();
    await sink.until(() => sink.frames.length >= 6, '6 frames');
    await source.stop();
    expect(sink.frames.slice(0, 6).map((f) => f.image.data.length)).toEqual(
      [0, 1, 2].flatMap(() => sink.frames.slice(0, 2).map((f) => f.image.data.length)),
    );

    const bad = mkdtempSync(join(tmpdir(), 'faceedge-folder-bad-'));
    writeFileSync(join(bad, 'a.jpg'), 'junk');
    const badSink = new RecordingSink();
    await new FolderSource({ path: bad, sink: badSink, loop: true, fps: 0 }).start();
    await badSink.until(() => badSink.endCount === 1, 'end');
    expect(badSink.statuses.at(-1)?.reason).toBe('no readable image to loop over');
    expect(badSink.errors).toHaveLength(1);
  });

  it('reports each bad file once, not on every loop, counting every skip; a FIFO in the folder is skipped at once', async () => {
    const dir = await makeFolder();
    makeFifo(dir, 'img5.jpg');
    const sink = new RecordingSink();
    const source = new FolderSource({ path: dir, sink, fps: 0, loop: true, maxPixels: 5_000_000 });
    await source.start();
    // Four passes over the two good images.
    await sink.until(() => sink.frames.length >= 8, '8 frames');
    await source.stop();
    expect(sink.errors.map((e) => e.message.match(/img\d+\.\w+/)?.[0])).toEqual(['img3.jpg', 'img4.png', 'img5.jpg']);
    expect(sink.errors[2].message).toContain('it is a FIFO');
    expect(source.stats().skipped).toBeGreaterThanOrEqual(3 * 4);
  });

  it('rejects start() for a missing or empty folder', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'faceedge-folder-empty-'));
    await expect(new FolderSource({ path: empty, sink: new RecordingSink() }).start()).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
    });
    await expect(
      new FolderSource({ path: join(empty, 'nope'), sink: new RecordingSink() }).start(),
    ).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
  });
});
