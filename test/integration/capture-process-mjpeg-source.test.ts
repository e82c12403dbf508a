import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessMjpegSource, type ProcessMjpegSourceOptions } from '../../src/capture/process-mjpeg-source.js';
import { noiseJpeg, RecordingSink } from '../helpers/capture-sink.js';

/** A real camera stand-in: ffmpeg's test pattern as MJPEG, 10 fps, in real time. */
const FFMPEG_CAMERA = {
  command: 'ffmpeg',
  args: [
    '-hide_banner',
    '-loglevel',
    'error',
    '-re',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=320x240:rate=10',
    '-f',
    'mjpeg',
    '-q:v',
    '5',
    '-',
  ],
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const sources: ProcessMjpegSource[] = [];
function make(sink: RecordingSink, options: Partial<ProcessMjpegSourceOptions> = {}): ProcessMjpegSource {
  const source = new ProcessMjpegSource({
    sink,
    name: 'cam',
    command: FFMPEG_CAMERA,
    watchdogMs: 1500,
    backoff: { initialMs: 100, maxMs: 1000 },
    killGraceMs: 1000,
    ...options,
  });
  sources.push(source);
  return source;
}

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()));
});

describe('ProcessMjpegSource', () => {
  it('streams JPEG frames from a live process and goes online', async () => {
    const sink = new RecordingSink();
    const source = make(sink);
    await source.start();
    await sink.until(() => sink.frames.length >= 5, '5 frames');
    expect(sink.states).toEqual(['offline', 'online']);
    const image = sink.frames[4].image;
    expect(image.kind).toBe('encoded');
    expect(image.kind === 'encoded' && image.origin).toBe('cam#4');
    const meta = await sharp(image.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 240]);
    const pid = source.pid!;
    await source.stop();
    expect(alive(pid)).toBe(false);
    expect(sink.endCount).toBe(1);
    expect(sink.statuses.at(-1)).toMatchObject({ state: 'offline', reason: 'stopped' });
    await source.stop(); // idempotent
    expect(sink.endCount).toBe(1);
    expect(sink.errors).toEqual([]); // a frame cut by our own kill is not reported
  });

  it('restarts a killed process: offline with the reason, then online again', async () => {
    const sink = new RecordingSink();
    const source = make(sink);
    await source.start();
    await sink.until(() => sink.frames.length >= 3, '3 frames');
    const first = source.pid!;
    process.kill(first, 'SIGKILL');
    await sink.until(() => sink.states.length >= 4, 'back online');
    expect(sink.states).toEqual(['offline', 'online', 'offline', 'online']);
    expect(sink.statuses[2].reason).toBe('cam was killed by SIGKILL');
    const before = sink.frames.length;
    await sink.until(() => sink.frames.length >= before + 3, 'frames after the restart');
    expect(source.pid).not.toBe(first);
    expect(source.stats()).toMatchObject({ starts: 2, restarts: 1 });
    expect(sink.errors.map((e) => e.code)).toContain('SOURCE_FAILED');
  });

  it('watchdog: a process that stops sending frames is killed and restarted', async () => {
    const sink = new RecordingSink();
    const source = make(sink, { watchdogMs: 800 });
    await source.start();
    await sink.until(() => sink.frames.length >= 3, '3 frames');
    const frozen = source.pid!;
    process.kill(frozen, 'SIGSTOP'); // alive but silent, like a hung camera driver
    await sink.until(() => sink.states.length >= 4, 'back online', 15_000);
    expect(sink.statuses[2].reason).toBe('no frame for 0.8 s from cam, restarted it');
    expect(alive(frozen)).toBe(false);
    expect(source.pid).not.toBe(frozen);
  });

  it('backs off exponentially while the process keeps failing, keeping its stderr as the reason', async () => {
    const sink = new RecordingSink();
    const source = make(sink, {
      command: { command: 'ffmpeg', args: ['-hide_banner', '-i', '/nonexistent/camera.mjpeg', '-f', 'mjpeg', '-'] },
      backoff: { initialMs: 50, maxMs: 200 },
    });
    await source.start();
    await sink.until(() => sink.errors.length >= 4, '4 failures');
    const delays = sink.errors.map((e) => Number(/restarting in (\d+) ms/.exec(e.message)?.[1]));
    expect(delays.slice(0, 4)).toEqual([50, 100, 200, 200]);
    expect(sink.errors[0].message).toMatch(/exited with code 1: .*No such file or directory/);
    // Never online; the reason changed once (starting → the failure), identical failures are not repeated.
    expect(sink.states).toEqual(['offline', 'offline']);
    expect(sink.statuses[1].reason).toMatch(/^cam exited with code 1: .*No such file or directory/);
  });

  it('skips a corrupt frame from the process and keeps the good ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'faceedge-proc-'));
    const jpeg = await noiseJpeg(64, 48, 3);
    const file = join(dir, 'a.jpg');
    writeFileSync(file, jpeg);
    const sink = new RecordingSink();
    const source = make(sink, {
      // A truncated frame, then two good ones, then silence (the watchdog is not reached).
      command: { command: 'bash', args: ['-c', `head -c 300 '${file}'; cat '${file}' '${file}'; exec sleep 30`] },
    });
    await source.start();
    await sink.until(() => sink.frames.length >= 2, '2 frames');
    expect(sink.frames.map((f) => f.image.data.equals(jpeg))).toEqual([true, true]);
    expect(sink.errors.map((e) => e.code)).toEqual(['IMAGE_UNREADABLE']);
    expect(source.stats()).toMatchObject({ framesOut: 2, skipped: 1 });
  });

  it('rejects start() when the program does not exist', async () => {
    const source = make(new RecordingSink(), { command: { command: 'no-such-camera-program', args: [] } });
    await expect(source.start()).rejects.toMatchObject({
      code: 'SOURCE_FAILED',
      hint: 'Install no-such-camera-program or put it on PATH.',
    });
  });
});
