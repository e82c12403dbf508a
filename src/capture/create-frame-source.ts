/**
 * Builds the configured frame source. The config keys are the ones of the `source:` section of the daemon
 * config (snake_case); validation of types and ranges belongs to the config schema, this only maps.
 */
import { FaceedgeError } from '../errors.js';
import type { CameraSourceConfig } from './camera-source-schema.js';
import { createRtspSource, createV4l2Source } from './ffmpeg-camera-source.js';
import { FolderSource } from './folder-source.js';
import type { FrameSink, FrameSource } from './frame-source.js';
import { GifSource } from './gif-source.js';
import { ProcessMjpegSource } from './process-mjpeg-source.js';
import { createRpicamSource } from './rpicam-source.js';
import type { SourceClock } from './source-reporter.js';
import { StillImageSource } from './still-image-source.js';
import { VideoFileSource } from './video-file-source.js';

/**
 * Every configurable source, discriminated by `type`: exactly the `cameras[].source` section as the
 * config schema validates it and fills its defaults (one definition, `cameraSourceSchema`), plus a name.
 */
export type FrameSourceConfig = CameraSourceConfig & {
  /** Name for logs and status topics; each kind has a sensible default. */
  readonly name?: string;
};

/** What a source needs besides its config. */
export interface FrameSourceDeps {
  readonly sink: FrameSink;
  /** Environment for camera programs (PATH lookup, child env). Default this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Clocks for frame timestamps; default the system clocks. */
  readonly clock?: SourceClock;
}

/**
 * Creates the source described by `config`; nothing starts until `start()`.
 * @throws FaceedgeError `CONFIG_INVALID` for settings no source of that type can use.
 */
export function createFrameSource(config: FrameSourceConfig, deps: FrameSourceDeps): FrameSource {
  const { sink, env, clock } = deps;
  const watchdogMs = (c: { readonly watchdog_s: number }): number => c.watchdog_s * 1000;
  switch (config.type) {
    case 'image':
    case 'folder':
    case 'gif':
    case 'video': {
      const options = {
        sink,
        clock,
        name: config.name,
        path: config.path,
        loop: config.loop,
        fps: config.fps,
        realtime: config.realtime,
        maxPixels: config.max_pixels,
      };
      if (config.type === 'image') return new StillImageSource(options);
      if (config.type === 'folder') return new FolderSource(options);
      if (config.type === 'gif') return new GifSource(options);
      return new VideoFileSource(options);
    }
    case 'mjpeg_process':
      return new ProcessMjpegSource({
        sink,
        clock,
        env,
        name: config.name,
        command: { command: config.command, args: config.args ?? [] },
        watchdogMs: watchdogMs(config),
      });
    case 'rpicam':
      return createRpicamSource({
        sink,
        env,
        name: config.name,
        width: config.width,
        height: config.height,
        fps: config.fps,
        rotation: config.rotation,
        extraArgs: config.args,
        watchdogMs: watchdogMs(config),
      });
    case 'v4l2':
      return createV4l2Source({
        sink,
        env,
        name: config.name,
        device: config.path,
        width: config.width,
        height: config.height,
        fps: config.fps,
        watchdogMs: watchdogMs(config),
      });
    case 'rtsp':
      return createRtspSource({
        sink,
        env,
        name: config.name,
        url: config.path,
        width: config.width,
        height: config.height,
        fps: config.fps,
        watchdogMs: watchdogMs(config),
      });
    default: {
      const unknown: never = config;
      throw new FaceedgeError('CONFIG_INVALID', `unknown source type ${(unknown as { type: string }).type}`, {
        hint: 'Use one of image, folder, gif, video, mjpeg_process, rpicam, v4l2, rtsp.',
      });
    }
  }
}
