/**
 * The Raspberry Pi camera (libcamera stack) as a source: `rpicam-vid` streaming MJPEG to stdout, or
 * `libcamera-vid`, its name on Raspberry Pi OS images before Bookworm; whichever is on PATH.
 */
import { FaceedgeError } from '../errors.js';
import type { CommonSourceOptions } from './frame-source.js';
import { findExecutable } from './find-executable.js';
import { ProcessMjpegSource, type BackoffOptions, type ProcessCommand } from './process-mjpeg-source.js';

/** Programs tried, in order of preference. */
export const RPICAM_PROGRAMS: readonly string[] = ['rpicam-vid', 'libcamera-vid'];

/** Camera settings. */
export interface RpicamSettings {
  /** Frame width in pixels. Default 1280. */
  readonly width?: number;
  /** Frame height in pixels. Default 720. */
  readonly height?: number;
  /** Frames per second. Default 15. */
  readonly fps?: number;
  /** Image rotation in degrees; libcamera only supports 0 and 180. Default 0. */
  readonly rotation?: number;
  /** Extra arguments appended as is (e.g. `['--autofocus-mode', 'continuous']`). */
  readonly extraArgs?: readonly string[];
}

/** Options of {@link createRpicamSource}. */
export interface RpicamSourceOptions extends CommonSourceOptions, RpicamSettings {
  /** Restart when no frame arrived for this long, ms. Default 5000. */
  readonly watchdogMs?: number;
  readonly backoff?: BackoffOptions;
  /** Environment: its PATH is searched and the child inherits it. Default this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Arguments for `rpicam-vid` / `libcamera-vid`: run forever (`-t 0`), no preview window (`-n`), MJPEG to
 * stdout (`-o -`).
 * @throws FaceedgeError `CONFIG_INVALID` for a size/fps that is not a positive integer or a rotation other
 *   than 0/180.
 */
export function buildRpicamArgs(settings: RpicamSettings = {}): string[] {
  const { width = 1280, height = 720, fps = 15, rotation = 0, extraArgs = [] } = settings;
  for (const [key, value] of [
    ['width', width],
    ['height', height],
    ['fps', fps],
  ] as const) {
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new FaceedgeError('CONFIG_INVALID', `rpicam ${key} must be a positive number, got ${value}`);
    }
  }
  if (!Number.isInteger(width) || !Number.isInteger(height)) {
    throw new FaceedgeError('CONFIG_INVALID', `rpicam width and height must be integers, got ${width}x${height}`);
  }
  if (rotation !== 0 && rotation !== 180) {
    throw new FaceedgeError('CONFIG_INVALID', `rpicam rotation must be 0 or 180, got ${rotation}`, {
      hint: 'libcamera can only flip the sensor readout; rotate by 90 degrees downstream instead.',
    });
  }
  return [
    '-t',
    '0',
    '-n',
    '--codec',
    'mjpeg',
    '--width',
    String(width),
    '--height',
    String(height),
    '--framerate',
    String(fps),
    ...(rotation ? ['--rotation', String(rotation)] : []),
    ...extraArgs,
    '-o',
    '-',
  ];
}

/** The full path of `rpicam-vid`, else of `libcamera-vid`, on `pathEnv`; null when neither is there. */
export async function detectRpicamProgram(pathEnv: string | undefined): Promise<string | null> {
  for (const program of RPICAM_PROGRAMS) {
    const found = await findExecutable(program, pathEnv);
    if (found) return found;
  }
  return null;
}

/**
 * A {@link ProcessMjpegSource} running the Pi camera. The program is looked up at `start()`, which
 * rejects with `CAMERA_NOT_FOUND` when neither program is installed; argument errors throw here.
 */
export function createRpicamSource(options: RpicamSourceOptions): ProcessMjpegSource {
  const args = buildRpicamArgs(options);
  const env = options.env ?? process.env;
  const resolve = async (): Promise<ProcessCommand> => {
    const command = await detectRpicamProgram(env.PATH);
    if (!command) {
      throw new FaceedgeError('CAMERA_NOT_FOUND', `neither ${RPICAM_PROGRAMS.join(' nor ')} is on PATH`, {
        hint: 'Install the camera apps (sudo apt install rpicam-apps), or use a v4l2/rtsp source.',
      });
    }
    return { command, args };
  };
  return new ProcessMjpegSource({
    sink: options.sink,
    name: options.name ?? 'rpicam',
    command: resolve,
    watchdogMs: options.watchdogMs,
    backoff: options.backoff,
    env,
  });
}
