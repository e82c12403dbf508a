import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LatestFrameSlot } from '../../src/capture/latest-frame-slot.js';
import { VideoFileSource } from '../../src/capture/video-file-source.js';
import { RecordingSink, SCENES } from '../helpers/capture-sink.js';

/** The 2-minute sample clip, read from the shared data set when this checkout has it. */
const SHARED_MP4 = join(SCENES, '..', '..', '..', '..', 'shared', 'data', 'scenes', 'one-by-one-person-detection.mp4');

let dir: string;
let clip: string;
let reference: Buffer;
const FRAME = 480 * 270 * 3;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'faceedge-video-'));
  clip = join(dir, 'walking-2s.mp4');
  // A 2-second H.264 clip made from the sample GIF (not committed: it is derived at test time).
  execFileSync('ffmpeg', [
    '-v',
    'error',
    '-i',
    join(SCENES, 'face-demographics-walking.gif'),
    '-t',
    '2',
    '-r',
    '10',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    clip,
  ]);
  reference = execFileSync('ffmpeg', ['-v', 'error', '-i', clip, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    maxBuffer: 1 << 28,
  });
});

describe('VideoFileSource', () => {
  it('decodes every frame at native size, consumer-paced, identical to ffmpeg', async () => {
    const slot = new LatestFrameSlot();
    const source = new VideoFileSource({ path: clip, fps: 0, sink: slot.asSink() });
    await source.start();
    expect(source.info).toEqual({ width: 480, height: 270 });
    const frames: Buffer[] = [];
    for (let f = await slot.next(); f; f = await slot.next()) {
      expect(f.image.kind).toBe('rgb');
      frames.push(f.image.data);
      await new Promise((r) => setTimeout(r, 2)); // a consumer slower than the decoder
    }
    expect(frames.length).toBe(reference.length / FRAME);
    expect(frames.length).toBe(20);
    expect(slot.stats().dropped).toBe(0);
    expect(Buffer.concat(frames).equals(reference)).toBe(true);
    await source.stop();
  });

  it('plays in real time by default', async () => {
    const sink = new RecordingSink();
    const source = new VideoFileSource({ path: clip, sink });
    const t0 = performance.now();
    await source.start();
    await sink.until(() => sink.endCount === 1, 'end');
    expect(performance.now() - t0).toBeGreaterThan(1500);
    expect(sink.frames).toHaveLength(20);
    expect(sink.states).toEqual(['online', 'offline']);
    expect(sink.statuses[1].reason).toMatch(/^end of /);
  });

  it('reports a truncated file once ("partial file"), while what precedes the cut plays in a loop', async () => {
    // A streamable MP4 (index first) cut at 60 %: ffprobe opens it, ffmpeg plays up to the cut each pass.
    const streamable = join(dir, 'streamable.mp4');
    execFileSync('ffmpeg', ['-v', 'error', '-i', clip, '-c', 'copy', '-movflags', '+faststart', streamable]);
    const whole = readFileSync(streamable);
    const cut = join(dir, 'cut.mp4');
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const sink = new RecordingSink();
    const source = new VideoFileSource({ path: cut, sink, loop: true, fps: 0 });
    await source.start();
    // Three passes' worth of frames: the cut was met at least twice.
    await sink.until(() => sink.frames.length >= 36, '36 frames of the cut file', 30_000);
    await source.stop();
    expect(sink.errors.map((e) => e.message)).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({
      code: 'SOURCE_FAILED',
      message: expect.stringMatching(/cut\.mp4 is truncated \(ffmpeg: ".*partial file"\).*in a loop; reported once/),
    });
    expect(source.stats().skipped).toBe(1);
  });

  it('loops until stopped and kills ffmpeg on stop, even while blocked on a busy consumer', async () => {
    const sink = new RecordingSink();
    const source = new VideoFileSource({ path: clip, sink, loop: true, fps: 0 });
    await source.start();
    await sink.until(() => sink.frames.length >= 45, '45 frames');
    // Now the consumer never gets ready again: ffmpeg blocks on a full pipe.
    sink.onFrame = () => new Promise<void>(() => {});
    await sink.until(() => sink.frames.length >= 46, 'a blocked frame');
    const pid = source.pid!;
    expect(alive(pid)).toBe(true);
    await source.stop();
    expect(alive(pid)).toBe(false);
    expect(source.pid).toBeUndefined();
    expect(sink.endCount).toBe(1);
    expect(sink.frames[20].image.data.equals(sink.frames[0].image.data)).toBe(true); // second pass
  });

  it('rejects start() for a missing file and for a file that is not a video', async () => {
    const text = join(dir, 'notes.mp4');
    writeFileSync(text, 'not a video');
    const start = (path: string): Promise<void> => new VideoFileSource({ path, sink: new RecordingSink() }).start();
    await expect(start(join(dir, 'missing.mp4'))).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
    await expect(start(text)).rejects.toMatchObject({ code: 'SOURCE_FAILED' });
    await expect(
      new VideoFileSource({ path: clip, maxPixels: 100_000, sink: new RecordingSink() }).start(),
    ).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
  });

  it('refuses a FIFO, a device and a name that is not valid UTF-8 with what they are, not "not a file"', async () => {
    const fifo = join(dir, 'camera.fifo');
    execFileSync('mkfifo', [fifo]);
    const start = (path: string): Promise<void> => new VideoFileSource({ path, sink: new RecordingSink() }).start();
    await expect(start(fifo)).rejects.toThrow(`cannot read video ${fifo}: it is a FIFO (named pipe)`);
    await expect(start('/dev/zero')).rejects.toThrow('cannot read video /dev/zero: it is a character device');
    await expect(start(join(dir, 'caf\uFFFD.mp4'))).rejects.toThrow(/its name is not valid UTF-8/);
  });

  const hasMp4 = existsSync(SHARED_MP4);
  if (!hasMp4) console.warn(`skipping the real-mp4 test: ${SHARED_MP4} not found (shared data set absent)`);
  it.skipIf(!hasMp4)(
    'reads the real 768x432 H.264 sample (shared/data/scenes/one-by-one-person-detection.mp4)',
    async () => {
      const sink = new RecordingSink();
      const source = new VideoFileSource({ path: SHARED_MP4, sink, fps: 0 });
      await source.start();
      await sink.until(() => sink.frames.length >= 30, '30 frames');
      await source.stop();
      const image = sink.frames[29].image;
      expect(image.kind === 'rgb' && [image.width, image.height, image.data.length]).toEqual([768, 432, 768 * 432 * 3]);
      const first30 = execFileSync(
        'ffmpeg',
        ['-v', 'error', '-i', SHARED_MP4, '-frames:v', '30', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
        { maxBuffer: 1 << 28 },
      );
      expect(image.data.equals(first30.subarray(29 * 768 * 432 * 3))).toBe(true);
    },
  );
});
