/**
 * USB/CSI cameras through V4L2 (`/dev/videoN`) and IP cameras through RTSP, both read by an ffmpeg child
 * that re-encodes to MJPEG on stdout, so the rest of the pipeline sees the same stream as from rpicam-vid.
 */
import { stat } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';
import { redactUrl, urlPasswords } from '../observability/redact-url.js';
import type { CommonSourceOptions } from './frame-source.js';
import { ProcessMjpegSource, type BackoffOptions } from './process-mjpeg-source.js';

/** ffmpeg's MJPEG quality (`-q:v`, 2 = best … 31 = worst). Default 5: faces stay sharp, frames stay small. */
export const DEFAULT_MJPEG_QUALITY = 5;

const COMMON_INPUT = ['-hide_banner', '-nostdin', '-loglevel', 'error'];

/** Settings of a V4L2 camera. */
export interface V4l2Settings {
  /** Device node. Default `/dev/video0`. */
  readonly device?: string;
  /** Requested width in pixels. Default 1280. */
  readonly width?: number;
  /** Requested height in pixels. Default 720. */
  readonly height?: number;
  /** Requested frames per second. Default 15. */
  readonly fps?: number;
  /** Pixel format asked from the camera (`mjpeg` keeps USB bandwidth low; `yuyv422` for raw-only cams). Default `mjpeg`. */
  readonly inputFormat?: string;
  /** Output JPEG quality, see {@link DEFAULT_MJPEG_QUALITY}. */
  readonly quality?: number;
}

/** Settings of an RTSP camera. */
export interface RtspSettings {
  /** `rtsp://[user:password@]host[:port]/path`. */
  readonly url: string;
  /** Scale to this width (with `height`); unset keeps the stream's size. */
  readonly width?: number;
  /** Scale to this height (with `width`). */
  readonly height?: number;
  /** Output frames per second; unset keeps the stream's rate. */
  readonly fps?: number;
  /** Output JPEG quality, see {@link DEFAULT_MJPEG_QUALITY}. */
  readonly quality?: number;
}

/** Default watchdog of an RTSP camera, ms: network cameras take longer to reconnect than local ones. */
export const RTSP_WATCHDOG_MS = 10_000;

/** Process options shared by both camera kinds. */
export interface FfmpegCameraOptions extends CommonSourceOptions {
  /** Restart when no frame arrived for this long, ms. Default 5000 (`DEFAULT_WATCHDOG_MS`) for V4L2, 10000 for RTSP. */
  readonly watchdogMs?: number;
  readonly backoff?: BackoffOptions;
  /** ffmpeg program. Default `ffmpeg`. */
  readonly ffmpegPath?: string;
  readonly env?: NodeJS.ProcessEnv;
}

function mjpegOutput(quality = DEFAULT_MJPEG_QUALITY): string[] {
  return ['-an', '-f', 'mjpeg', '-q:v', String(quality), '-'];
}

/** ffmpeg arguments reading a V4L2 device and writing MJPEG to stdout. */
export function buildV4l2Args(settings: V4l2Settings = {}): string[] {
  const { device = '/dev/video0', width = 1280, height = 720, fps = 15, inputFormat = 'mjpeg' } = settings;
  return [
    ...COMMON_INPUT,
    '-f',
    'v4l2',
    '-input_format',
    inputFormat,
    '-video_size',
    `${width}x${height}`,
    '-framerate',
    String(fps),
    '-i',
    device,
    ...mjpegOutput(settings.quality),
  ];
}

/** ffmpeg arguments reading an RTSP stream over TCP (no UDP loss artefacts) and writing MJPEG to stdout. */
export function buildRtspArgs(settings: RtspSettings): string[] {
  const { url, width, height, fps } = settings;
  const filters = [...(width && height ? [`scale=${width}:${height}`] : []), ...(fps ? [`fps=${fps}`] : [])];
  return [
    ...COMMON_INPUT,
    '-rtsp_transport',
    'tcp',
    '-i',
    url,
    ...(filters.length ? ['-vf', filters.join(',')] : []),
    ...mjpegOutput(settings.quality),
  ];
}

/**
 * A V4L2 camera source. `start()` rejects with `CAMERA_NOT_FOUND` when the device node does not exist.
 */
export function createV4l2Source(options: FfmpegCameraOptions & V4l2Settings): ProcessMjpegSource {
  const device = options.device ?? '/dev/video0';
  const args = buildV4l2Args(options);
  return new ProcessMjpegSource({
    sink: options.sink,
    name: options.name ?? `v4l2:${device}`,
    command: async () => {
      try {
        await stat(device);
      } catch (cause) {
        throw new FaceedgeError('CAMERA_NOT_FOUND', `camera device ${device} does not exist`, {
          hint: 'Plug the camera in, check `v4l2-ctl --list-devices`, and that the user is in the video group.',
          cause,
        });
      }
      return { command: options.ffmpegPath ?? 'ffmpeg', args };
    },
    watchdogMs: options.watchdogMs,
    backoff: options.backoff,
    env: options.env,
  });
}

/** An RTSP camera source. Credentials in the URL are masked in its name and in reported errors. */
export function createRtspSource(options: FfmpegCameraOptions & RtspSettings): ProcessMjpegSource {
  if (!/^rtsps?:\/\//i.test(options.url)) {
    throw new FaceedgeError('CONFIG_INVALID', `not an RTSP URL: ${redactUrl(options.url)}`, {
      hint: 'Use rtsp://[user:password@]host[:port]/path',
    });
  }
  // Both spellings: ffmpeg may print the URL as given (percent-encoded) or decoded.
  const secrets = urlPasswords(options.url);
  return new ProcessMjpegSource({
    sink: options.sink,
    name: options.name ?? redactUrl(options.url),
    command: { command: options.ffmpegPath ?? 'ffmpeg', args: buildRtspArgs(options) },
    watchdogMs: options.watchdogMs ?? RTSP_WATCHDOG_MS,
    backoff: options.backoff,
    env: options.env,
    secrets,
  });
}
