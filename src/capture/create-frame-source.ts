/**
 * Builds the configured frame source. The config keys are the ones of the `source:` section of the daemon
 * config (snake_case); validation of types and ranges belongs to the config schema, this only maps.
 */
import { FaceedgeError } from '../errors.js';
import { createRtspSource, createV4l2Source } from './ffmpeg-camera-source.js';
import { FolderSource } from './folder-source.js';
import type { FrameSink, FrameSource } from './frame-source.js';
import { GifSource } from './gif-source.js';
import { ProcessMjpegSource } from './process-mjpeg-source.js';
import { createRpicamSource } from './rpicam-source.js';
import type { SourceClock } from './source-reporter.js';
import { StillImageSource } from './still-image-source.js';
import { VideoFileSource } from './video-file-source.js';

/** Keys every source kind accepts. */
interface SourceConfigBase {
  /** Name for logs and status topics; each kind has a sensible default. */
  readonly name?: string;
}

/** Playback of files. */
interface FileSourceConfig extends SourceConfigBase {
  /** File or folder path. */
  readonly path: string;
  /** Start over at the end. Default false. */
  readonly loop?: boolean;
  /** Frames per second; unset = natural speed (GIF delays, video rate, 1 fps for images); 0 = as fast as consumed. */
  readonly fps?: number;
  /** `false` = as fast as consumed (same as `fps: 0`). Default true. */
  readonly realtime?: boolean;
  /** Largest accepted image, width × height in pixels. Default 50 000 000. */
  readonly max_pixels?: number;
}

/** Live sources behind a child process. */
interface LiveSourceConfig extends SourceConfigBase {
  /** Restart the process when no frame arrived for this many seconds. Default 5 (rtsp: 10). */
  readonly watchdog_s?: number;
}

/** Camera size and rate requests. */
interface CameraConfig {
  /** Width in pixels. Default 1280 (rtsp: the stream's). */
  readonly width?: number;
  /** Height in pixels. Default 720 (rtsp: the stream's). */
  readonly height?: number;
  /** Frames per second. Default 15 (rtsp: the stream's). */
  readonly fps?: number;
}

/** Every configurable source, discriminated by `type`. */
export type FrameSourceConfig =
  | ({ readonly type: 'image' } & FileSourceConfig)
  | ({ readonly type: 'folder' } & FileSourceConfig)
  | ({ readonly type: 'gif' } & FileSourceConfig)
  | ({ readonly type: 'video' } & FileSourceConfig)
  | ({
      readonly type: 'mjpeg_process';
      /** Program writing MJPEG to stdout. */
      readonly command: string;
      readonly args?: readonly string[];
    } & LiveSourceConfig)
  | ({
      readonly type: 'rpicam';
      /** 0 or 180 degrees. Default 0. */
      readonly rotation?: number;
      /** Extra `rpicam-vid` arguments. */
      readonly args?: readonly string[];
    } & LiveSourceConfig &
      CameraConfig)
  | ({
      readonly type: 'v4l2';
      /** Device node. Default `/dev/video0`. */
      readonly path?: string;
    } & LiveSourceConfig &
      CameraConfig)
  | ({
      readonly type: 'rtsp';
      /** The RTSP URL, `rtsp://[user:password@]host[:port]/path`. */
      readonly path: string;
    } & LiveSourceConfig &
      CameraConfig);

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
  const watchdogMs = (c: LiveSourceConfig): number | undefined =>
    c.watchdog_s === undefined ? undefined : c.watchdog_s * 1000;
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
