import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createFrameSource, type FrameSourceConfig } from '../../src/capture/create-frame-source.js';
import { cameraSourceSchema } from '../../src/capture/camera-source-schema.js';
import {
  buildRtspArgs,
  buildV4l2Args,
  createRtspSource,
  createV4l2Source,
} from '../../src/capture/ffmpeg-camera-source.js';
import { redactUrl } from '../../src/observability/redact-url.js';
import { findExecutable } from '../../src/capture/find-executable.js';
import { FolderSource } from '../../src/capture/folder-source.js';
import { GifSource } from '../../src/capture/gif-source.js';
import { ProcessMjpegSource } from '../../src/capture/process-mjpeg-source.js';
import { buildRpicamArgs, detectRpicamProgram } from '../../src/capture/rpicam-source.js';
import { StillImageSource } from '../../src/capture/still-image-source.js';
import { VideoFileSource } from '../../src/capture/video-file-source.js';
import { isFaceedgeError } from '../../src/errors.js';
import { RecordingSink } from '../helpers/capture-sink.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (err) {
    return isFaceedgeError(err) ? err.code : 'not a FaceedgeError';
  }
  return undefined;
};

describe('rpicam-vid arguments', () => {
  it('builds the streaming command line', () => {
    expect(buildRpicamArgs()).toEqual([
      '-t',
      '0',
      '-n',
      '--codec',
      'mjpeg',
      '--width',
      '1280',
      '--height',
      '720',
      '--framerate',
      '15',
      '-o',
      '-',
    ]);
    expect(
      buildRpicamArgs({ width: 640, height: 480, fps: 7.5, rotation: 180, extraArgs: ['--denoise', 'off'] }),
    ).toEqual([
      '-t',
      '0',
      '-n',
      '--codec',
      'mjpeg',
      '--width',
      '640',
      '--height',
      '480',
      '--framerate',
      '7.5',
      '--rotation',
      '180',
      '--denoise',
      'off',
      '-o',
      '-',
    ]);
  });

  it('refuses settings libcamera cannot do', () => {
    expect(codeOf(() => buildRpicamArgs({ rotation: 90 }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => buildRpicamArgs({ width: 0 }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => buildRpicamArgs({ height: 480.5 }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => buildRpicamArgs({ fps: Number.NaN }))).toBe('CONFIG_INVALID');
  });

  it('prefers rpicam-vid, falls back to libcamera-vid, else finds nothing', async () => {
    const make = (names: string[]): string => {
      const dir = mkdtempSync(join(tmpdir(), 'faceedge-path-'));
      for (const name of names) {
        writeFileSync(join(dir, name), '#!/bin/sh\n');
        chmodSync(join(dir, name), 0o755);
      }
      return dir;
    };
    const both = make(['rpicam-vid', 'libcamera-vid']);
    const old = make(['libcamera-vid']);
    const none = make([]);
    expect(await detectRpicamProgram(`${old}:${both}`)).toBe(join(both, 'rpicam-vid'));
    expect(await detectRpicamProgram(old)).toBe(join(old, 'libcamera-vid'));
    expect(await detectRpicamProgram(none)).toBeNull();
    expect(await detectRpicamProgram(undefined)).toBeNull();
    // Not executable, or a directory, does not count.
    writeFileSync(join(none, 'rpicam-vid'), 'x');
    chmodSync(join(none, 'rpicam-vid'), 0o644);
    expect(await findExecutable('rpicam-vid', none)).toBeNull();
    symlinkSync(join(both, 'rpicam-vid'), join(none, 'libcamera-vid'));
    expect(await findExecutable('libcamera-vid', `relative/dir:${none}`)).toBe(join(none, 'libcamera-vid'));
  });
});

describe('ffmpeg camera arguments', () => {
  it('reads V4L2 as MJPEG at the requested size and rate', () => {
    expect(buildV4l2Args()).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-f',
      'v4l2',
      '-input_format',
      'mjpeg',
      '-video_size',
      '1280x720',
      '-framerate',
      '15',
      '-i',
      '/dev/video0',
      '-an',
      '-f',
      'mjpeg',
      '-q:v',
      '5',
      '-',
    ]);
    expect(
      buildV4l2Args({ device: '/dev/video2', width: 640, height: 480, fps: 30, inputFormat: 'yuyv422', quality: 3 }),
    ).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-f',
      'v4l2',
      '-input_format',
      'yuyv422',
      '-video_size',
      '640x480',
      '-framerate',
      '30',
      '-i',
      '/dev/video2',
      '-an',
      '-f',
      'mjpeg',
      '-q:v',
      '3',
      '-',
    ]);
  });

  it('reads RTSP over TCP, scaling and resampling only when asked', () => {
    expect(buildRtspArgs({ url: 'rtsp://cam/stream' })).toEqual([
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-rtsp_transport',
      'tcp',
      '-i',
      'rtsp://cam/stream',
      '-an',
      '-f',
      'mjpeg',
      '-q:v',
      '5',
      '-',
    ]);
    expect(buildRtspArgs({ url: 'rtsp://cam/s', width: 640, height: 360, fps: 5 })).toContain('scale=640:360,fps=5');
  });

  it('keeps credentials out of names', () => {
    expect(redactUrl('rtsp://admin:p%40ss@10.0.0.5:554/h264')).toBe('rtsp://admin:***@10.0.0.5:554/h264');
    const source = createRtspSource({ url: 'rtsp://admin:pw@cam.local/live', sink: new RecordingSink() });
    expect(source.name).toBe('rtsp://admin:***@cam.local/live');
    expect(codeOf(() => createRtspSource({ url: 'http://cam/live', sink: new RecordingSink() }))).toBe(
      'CONFIG_INVALID',
    );
  });

  it('rejects start() with CAMERA_NOT_FOUND when the V4L2 device is missing', async () => {
    const source = createV4l2Source({ device: '/dev/video-faceedge-missing', sink: new RecordingSink() });
    await expect(source.start()).rejects.toMatchObject({ code: 'CAMERA_NOT_FOUND' });
    await source.stop();
  });
});

describe('createFrameSource', () => {
  it('builds the source each config type names', () => {
    const sink = new RecordingSink();
    // What the config schema hands over (defaults filled), as the daemon does.
    const make = ({ name, ...config }: Record<string, unknown>) =>
      createFrameSource({ ...cameraSourceSchema.parse(config), name: name as string | undefined }, { sink });
    const raw = (config: unknown) => createFrameSource(config as FrameSourceConfig, { sink });
    expect(make({ type: 'image', path: '/x/a.png' })).toBeInstanceOf(StillImageSource);
    expect(make({ type: 'folder', path: '/x/frames' })).toBeInstanceOf(FolderSource);
    expect(make({ type: 'gif', path: '/x/a.gif', loop: true })).toBeInstanceOf(GifSource);
    expect(make({ type: 'video', path: '/x/a.mp4', fps: 0 })).toBeInstanceOf(VideoFileSource);
    const proc = make({ type: 'mjpeg_process', command: 'my-cam', args: ['--mjpeg'], watchdog_s: 3 });
    expect(proc).toBeInstanceOf(ProcessMjpegSource);
    expect(proc.name).toBe('my-cam');
    expect(make({ type: 'rpicam', width: 640, height: 480 }).name).toBe('rpicam');
    expect(make({ type: 'v4l2' }).name).toBe('v4l2:/dev/video0');
    expect(make({ type: 'rtsp', path: 'rtsp://u:p@h/s', name: 'door' }).name).toBe('door');
    expect(make({ type: 'gif', path: '/x/walk.gif' }).name).toBe('gif:walk.gif');
    // Beyond the schema (a caller that skipped it): the sources still refuse with a typed error.
    expect(codeOf(() => raw({ type: 'rpicam', rotation: 270 }))).toBe('CONFIG_INVALID');
    expect(codeOf(() => raw({ type: 'webcam' }))).toBe('CONFIG_INVALID');
  });
});
