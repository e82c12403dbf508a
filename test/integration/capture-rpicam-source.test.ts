import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createFrameSource } from '../../src/capture/create-frame-source.js';
import { cameraSourceSchema } from '../../src/capture/camera-source-schema.js';
import { findExecutable } from '../../src/capture/find-executable.js';
import type { FrameSource } from '../../src/capture/frame-source.js';
import { RecordingSink } from '../helpers/capture-sink.js';

/** test/stand-ins/rpicam-vid: accepts the real flags, streams ffmpeg's test pattern as MJPEG. */
const STAND_IN = join(dirname(fileURLToPath(import.meta.url)), '..', 'stand-ins', 'rpicam-vid');

let ffmpeg: string;
const running: FrameSource[] = [];

beforeAll(async () => {
  ffmpeg = (await findExecutable('ffmpeg', process.env.PATH))!;
  expect(ffmpeg).toBeTruthy();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.stop()));
});

/**
 * A folder holding the stand-in under the given names, used as the whole PATH so that a real camera
 * program installed on this machine cannot be picked up instead.
 */
function cameraEnv(names: string[]): { env: NodeJS.ProcessEnv; log: string } {
  const dir = mkdtempSync(join(tmpdir(), 'faceedge-rpicam-'));
  for (const name of names) symlinkSync(STAND_IN, join(dir, name));
  const log = join(dir, 'args.log');
  return { env: { PATH: dir, FACEEDGE_STANDIN_FFMPEG: ffmpeg, FACEEDGE_STANDIN_LOG: log }, log };
}

/** Starts the source a `cameras[].source` section describes (validated and defaulted by the config schema). */
function start(config: Record<string, unknown>, env: NodeJS.ProcessEnv): { source: FrameSource; sink: RecordingSink } {
  const sink = new RecordingSink();
  const source = createFrameSource(cameraSourceSchema.parse(config), { sink, env });
  running.push(source);
  return { source, sink };
}

describe('rpicam source with a stand-in rpicam-vid', () => {
  it('runs rpicam-vid with the real flags and streams MJPEG frames of the requested size', async () => {
    const { env, log } = cameraEnv(['rpicam-vid', 'libcamera-vid']);
    const { source, sink } = start({ type: 'rpicam', width: 320, height: 240, fps: 10, rotation: 180 }, env);
    await source.start();
    await sink.until(() => sink.frames.length >= 3, '3 frames');
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'rpicam-vid',
      '-t',
      '0',
      '-n',
      '--codec',
      'mjpeg',
      '--width',
      '320',
      '--height',
      '240',
      '--framerate',
      '10',
      '--rotation',
      '180',
      '-o',
      '-',
    ]);
    const meta = await sharp(sink.frames[2].image.data).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 240]);
    expect(sink.states).toEqual(['offline', 'online']);
  });

  it('falls back to libcamera-vid on older systems', async () => {
    const { env, log } = cameraEnv(['libcamera-vid']);
    const { source, sink } = start({ type: 'rpicam', width: 160, height: 120, fps: 10 }, env);
    await source.start();
    await sink.until(() => sink.frames.length >= 2, '2 frames');
    expect(readFileSync(log, 'utf8').split('\n')[0]).toBe('libcamera-vid');
  });

  it('fails to start with CAMERA_NOT_FOUND when neither program exists', async () => {
    const { env } = cameraEnv([]);
    const { source } = start({ type: 'rpicam' }, env);
    await expect(source.start()).rejects.toMatchObject({ code: 'CAMERA_NOT_FOUND' });
  });

  it("reports the program's own error when it rejects an option, and keeps retrying", async () => {
    const { env } = cameraEnv(['rpicam-vid']);
    const { source, sink } = start({ type: 'rpicam', width: 160, height: 120, args: ['--bogus'] }, env);
    await source.start();
    await sink.until(() => sink.errors.length >= 2, '2 failures');
    expect(sink.errors[0].message).toContain("rpicam-vid: unrecognised option '--bogus'");
    expect(sink.statuses.at(-1)?.reason).toMatch(/exited with code 1: rpicam-vid: unrecognised option/);
    expect(sink.frames).toHaveLength(0);
  });
});

describe('ffmpeg camera sources against real ffmpeg', () => {
  it('rtsp: a refused connection is reported with the password masked', async () => {
    const { source, sink } = start(
      { type: 'rtsp', path: 'rtsp://admin:s3cret@127.0.0.1:1/stream', watchdog_s: 5 },
      process.env,
    );
    await source.start();
    await sink.until(() => sink.errors.length >= 1, 'a failure');
    expect(sink.errors[0].message).toMatch(/Connection refused/);
    expect(sink.errors[0].message).toContain('rtsp://admin:***@127.0.0.1:1/stream');
    expect(JSON.stringify(sink.statuses)).not.toContain('s3cret');
  });

  it('v4l2: ffmpeg accepts the arguments and reports a node that is not a camera', async () => {
    const { source, sink } = start({ type: 'v4l2', path: '/dev/null', watchdog_s: 5 }, process.env);
    await source.start();
    await sink.until(() => sink.errors.length >= 1, 'a failure');
    expect(sink.errors[0].message).toMatch(/\/dev\/null: Inappropriate ioctl for device/);
  });
});
