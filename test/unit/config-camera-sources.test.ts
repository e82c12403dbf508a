/**
 * The `cameras[].source` section against the capture layer: every source type createFrameSource
 * supports is configurable, gets the capture defaults written out, and a bad key of any type is
 * reported with its path in the same pass as every other problem.
 */
import { describe, expect, it } from 'vitest';
import { createFrameSource } from '../../src/capture/create-frame-source.js';
import { ConfigInvalidError } from '../../src/config/config-issues.js';
import { parseConfig } from '../../src/config/load-config.js';

const cameras = (...sources: Record<string, unknown>[]) => ({
  cameras: sources.map((source, i) => ({ name: `cam${i}`, source })),
});

function issuesOf(tree: unknown): Map<string, string> {
  try {
    parseConfig(tree, { hostname: 'pi' });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigInvalidError);
    return new Map((err as ConfigInvalidError).issues.map((i) => [i.path, i.message]));
  }
  throw new Error('expected the configuration to be refused');
}

describe('camera sources', () => {
  it('fills the capture defaults for every source type', () => {
    const cfg = parseConfig(
      cameras(
        { type: 'image', path: 'a.jpg' },
        { type: 'folder', path: 'frames/' },
        { type: 'gif', path: 'clip.gif' },
        { type: 'video', path: 'clip.mp4' },
        { type: 'mjpeg_process', command: 'my-cam' },
        { type: 'rpicam' },
        { type: 'v4l2' },
        { type: 'rtsp', path: 'rtsp://cam.local/stream1' },
      ),
      { hostname: 'pi' },
    );
    const file = { loop: false, realtime: true, max_pixels: 50_000_000 };
    expect(cfg.cameras.map((c) => c.source)).toEqual([
      { type: 'image', path: 'a.jpg', ...file },
      { type: 'folder', path: 'frames/', ...file },
      { type: 'gif', path: 'clip.gif', ...file },
      { type: 'video', path: 'clip.mp4', ...file },
      { type: 'mjpeg_process', command: 'my-cam', args: [], watchdog_s: 5 },
      { type: 'rpicam', width: 1280, height: 720, fps: 15, rotation: 0, args: [], watchdog_s: 5 },
      { type: 'v4l2', path: '/dev/video0', width: 1280, height: 720, fps: 15, watchdog_s: 5 },
      { type: 'rtsp', path: 'rtsp://cam.local/stream1', watchdog_s: 10 },
    ]);
  });

  it('every validated source is one createFrameSource builds (schema and capture agree)', () => {
    const cfg = parseConfig(
      cameras(
        { type: 'gif', path: 'clip.gif', fps: 0, loop: 'yes' },
        { type: 'video', path: 'clip.mp4', realtime: 'false', max_pixels: '2000000' },
        { type: 'mjpeg_process', command: 'my-cam', args: ['--mjpeg'], watchdog_s: '2.5' },
        { type: 'rpicam', rotation: '180', width: 640, height: 480, fps: 30, args: ['--hflip'] },
        { type: 'v4l2', path: '/dev/video2', fps: 10 },
        { type: 'rtsp', path: 'rtsp://u:p@cam.local/s', width: 640, height: 360, fps: 5 },
      ),
      { hostname: 'pi' },
    );
    expect(cfg.cameras[0]!.source).toMatchObject({ fps: 0, loop: true });
    expect(cfg.cameras[1]!.source).toMatchObject({ realtime: false, max_pixels: 2_000_000 });
    expect(cfg.cameras[3]!.source).toMatchObject({ rotation: 180 });
    for (const camera of cfg.cameras) {
      const source = createFrameSource({ ...camera.source, name: camera.name }, { sink: { frame: () => {} } });
      expect(source.name.length).toBeGreaterThan(0);
    }
  });

  it('reports every bad source key of every type at once, each with its path', () => {
    const issues = issuesOf(
      cameras(
        { type: 'rpicam', rotation: 90, fps: 0, width: 10.5 },
        { type: 'rtsp', path: 'http://cam.local/s', width: 640 },
        { type: 'v4l2', watchdog_s: 0 },
        { type: 'gif', path: 'x.gif', fps: -1, realtime: 'maybe', max_pixels: 0 },
        { type: 'mjpeg_process', command: 'my-cam', fps: 3 },
        { type: 'webcam' },
        { type: 'image' },
      ),
    );
    expect([...issues.keys()].sort()).toEqual(
      [
        'cameras.0.source.fps',
        'cameras.0.source.rotation',
        'cameras.0.source.width',
        'cameras.1.source.path',
        'cameras.1.source.width',
        'cameras.2.source.watchdog_s',
        'cameras.3.source.fps',
        'cameras.3.source.max_pixels',
        'cameras.3.source.realtime',
        'cameras.4.source.fps',
        'cameras.5.source.type',
        'cameras.6.source.path',
      ].sort(),
    );
    expect(issues.get('cameras.0.source.rotation')).toMatch(/0 or 180/);
    expect(issues.get('cameras.1.source.path')).toMatch(/RTSP URL/);
    expect(issues.get('cameras.1.source.width')).toMatch(/width and height must be given together/);
    // fps does nothing for a process source (the program sets its own rate): a key that is ignored is an error.
    expect(issues.get('cameras.4.source.fps')).toBe('unknown key');
  });

  it('fps 0 (consumer-paced) is only for files: a live camera cannot wait for the pipeline', () => {
    expect(
      parseConfig(cameras({ type: 'folder', path: 'f/', fps: 0 }), { hostname: 'pi' }).cameras[0]!.source,
    ).toMatchObject({ fps: 0 });
    const issues = issuesOf(cameras({ type: 'v4l2', fps: 0 }, { type: 'rtsp', path: 'rtsp://h/s', fps: 0 }));
    expect([...issues.keys()].sort()).toEqual(['cameras.0.source.fps', 'cameras.1.source.fps']);
  });

  it('a URL as the path of a file source is refused by the schema, naming the source to use instead', () => {
    const issues = issuesOf(
      cameras(
        { type: 'video', path: 'http://cam.lan/clip.mp4' },
        { type: 'video', path: 'rtsp://cam.lan/stream1' },
        { type: 'image', path: 'https://cam.lan/snapshot.jpg' },
        { type: 'gif', path: 'file:///srv/clip.gif' },
      ),
    );
    expect([...issues.keys()]).toEqual([0, 1, 2, 3].map((i) => `cameras.${i}.source.path`));
    for (const message of issues.values()) expect(message).toMatch(/not a URL: a network camera is type rtsp/);
    // Paths that merely contain a colon stay paths.
    const cfg = parseConfig(
      cameras({ type: 'video', path: 'clips/12:30:00.mp4' }, { type: 'video', path: 'C:x.mp4' }),
      {
        hostname: 'pi',
      },
    );
    expect(cfg.cameras.map((c) => (c.source as { path: string }).path)).toEqual(['clips/12:30:00.mp4', 'C:x.mp4']);
  });
});
