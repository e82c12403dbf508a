/**
 * `cameras[].source`: the one definition of a camera source (files, GIFs, videos, MJPEG processes,
 * rpicam, V4L2, RTSP). Its defaults are the capture layer's own constants, so the config and a source
 * built without it cannot disagree. `createFrameSource` (src/capture/create-frame-source.ts) takes this
 * schema's output; the config schema (src/config/config-schema.ts) puts it under `cameras[].source`.
 */
import { z } from 'zod';
import { bool, coerceNumber, isObjectPayload, num } from '../schema/schema-helpers.js';
import { RTSP_WATCHDOG_MS } from './ffmpeg-camera-source.js';
import { DEFAULT_WATCHDOG_MS } from './process-mjpeg-source.js';
import { DEFAULT_MAX_PIXELS } from './probe-image.js';

/**
 * A file or folder path on the board. A URL is refused here, with the source to use instead: it would
 * otherwise fail only at start, as a missing file (`ENOENT`). A network camera is `rtsp`; a camera
 * program that serves HTTP can be read by `mjpeg_process` (e.g. ffmpeg writing MJPEG to stdout).
 */
const filePath = z
  .string()
  .min(1)
  .refine((p) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(p), {
    message:
      'path must be a file on the board, not a URL: a network camera is type rtsp (rtsp://…), any other stream a mjpeg_process',
  });
/** Start over at the end. Default false: a file ends, and `faceedge run` exits once every source has ended. */
const loop = bool().default(false);
/** File playback rate in frames/s; 0 = as fast as the pipeline takes them; absent = the file's own speed. */
const fileFps = num(z.number().min(0).max(1000)).optional();
/** `false` = as fast as the pipeline takes frames (same as `fps: 0`). Default true. */
const realtime = bool().default(true);
/** Largest accepted image, width × height in pixels; bigger inputs are refused before decoding. Default 50 000 000. */
const maxPixels = num(z.number().int().min(1)).default(DEFAULT_MAX_PIXELS);
/** Seconds without a frame before a camera process is restarted (also the allowance for the first frame). */
const watchdogS = (defaultS: number) => num(z.number().positive().max(3600)).default(defaultS);
/** Requested frame side in pixels. */
const side = () => num(z.number().int().min(16).max(8192));
/** Requested camera rate in frames/s (live cameras cannot be consumer-paced, so 0 is refused). */
const liveFps = () => num(z.number().positive().max(1000));
/** Extra command-line arguments. Default none. */
const args = z.array(z.string()).default([]);

const fileSource = <T extends 'image' | 'folder' | 'gif' | 'video'>(type: T) =>
  z.strictObject({ type: z.literal(type), path: filePath, loop, fps: fileFps, realtime, max_pixels: maxPixels });

export const cameraSourceSchema = z.discriminatedUnion('type', [
  /** One still image, repeated at `fps` (default 1 fps). */
  fileSource('image'),
  /** Every image of a folder in name order; unreadable files are skipped. */
  fileSource('folder'),
  /** An animated GIF; `fps` absent = the GIF's own frame delays. */
  fileSource('gif'),
  /** A video file (mp4, mkv, avi… anything ffmpeg decodes) on the board; `fps` absent = native rate. */
  fileSource('video'),
  /** Any long-lived process writing MJPEG to stdout; restarted with backoff when it exits or stalls. */
  z.strictObject({
    type: z.literal('mjpeg_process'),
    command: z.string().min(1),
    args,
    watchdog_s: watchdogS(DEFAULT_WATCHDOG_MS / 1000),
  }),
  /** Raspberry Pi camera through `rpicam-vid` (or `libcamera-vid` on older images). */
  z.strictObject({
    type: z.literal('rpicam'),
    width: side().default(1280),
    height: side().default(720),
    fps: liveFps().default(15),
    /** libcamera can only flip: 0 or 180 degrees. Default 0. */
    rotation: z
      .preprocess(
        coerceNumber,
        z.literal([0, 180], { error: 'rotation must be 0 or 180 (libcamera cannot rotate by 90 degrees)' }),
      )
      .default(0),
    args,
    watchdog_s: watchdogS(DEFAULT_WATCHDOG_MS / 1000),
  }),
  /** A V4L2 device (USB webcam, CSI bridge) read by ffmpeg. */
  z.strictObject({
    type: z.literal('v4l2'),
    /** Device node. Default `/dev/video0`. */
    path: z.string().min(1).default('/dev/video0'),
    width: side().default(1280),
    height: side().default(720),
    fps: liveFps().default(15),
    watchdog_s: watchdogS(DEFAULT_WATCHDOG_MS / 1000),
  }),
  /** An RTSP camera read by ffmpeg; credentials in the URL are masked in logs and bridge/info. */
  z
    .strictObject({
      type: z.literal('rtsp'),
      path: z
        .string()
        .regex(/^rtsps?:\/\/[^\s]+$/i, 'path must be an RTSP URL: rtsp://[user:password@]host[:port]/path'),
      /** Scale to this size (with `height`). Default: the stream's size. */
      width: side().optional(),
      height: side().optional(),
      /** Resample to this rate. Default: the stream's rate. */
      fps: liveFps().optional(),
      /** Network cameras take longer to reconnect. Default 10. */
      watchdog_s: watchdogS(RTSP_WATCHDOG_MS / 1000),
    })
    // ffmpeg scales only with both sides; one alone would be silently ignored, so it is refused.
    .refine((s) => (s.width === undefined) === (s.height === undefined), {
      message: 'width and height must be given together',
      path: ['width'],
      when: isObjectPayload,
    }),
]);

/** A validated `cameras[].source`, defaults filled in. */
export type CameraSourceConfig = z.infer<typeof cameraSourceSchema>;
