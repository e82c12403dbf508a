/**
 * Reads an image file into memory, refusing whatever is not a regular file of a sane size. A plain
 * `readFile` on a FIFO blocks one of libuv's four pool threads until a writer appears (for ever, and
 * `process.exit` then waits for that thread: SIGTERM logs "stopped" and the process never ends); on
 * `/dev/zero` it reads until memory runs out (1.5 GB in 9 s). The path is checked with `stat` before
 * anything opens it (opening some devices has effects: a watchdog starts counting), then opened
 * non-blocking and checked again on the open descriptor, so a file swapped in between is caught too.
 *
 * Every image the board or the CLI reads comes through here: the `image`, `folder` and `gif` sources,
 * `classify`, `eval` and `dataset prepare`.
 */
import { constants } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { FaceedgeError } from '../errors.js';

/**
 * Largest image file read, bytes: 64 MiB. A 50-megapixel JPEG (the default pixel limit) is 10–25 MB; a
 * larger file is either not a photo or more than a board should hold in memory twice (file and pixels).
 */
export const DEFAULT_MAX_IMAGE_FILE_BYTES = 64 * 1024 * 1024;

/** Opened without waiting for a FIFO's writer, and never as the controlling terminal. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** Options of {@link readImageFile}. */
export interface ReadImageFileOptions {
  /** Largest accepted file size, bytes. Default {@link DEFAULT_MAX_IMAGE_FILE_BYTES}. */
  readonly maxBytes?: number;
  /** What the file is, for messages (`image`, `GIF`). Default `image`. */
  readonly what?: string;
  /** Said after the reason when the path cannot be read at all. Default: check the path. */
  readonly hint?: string;
}

/** What a non-regular file is, in words (`a FIFO (named pipe)`). */
export function fileKind(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Why `path` cannot be opened, in words. Node decodes command-line arguments and directory listings
 * as UTF-8 and puts U+FFFD where bytes are not valid UTF-8; such a name no longer names the file, so
 * "no such file" would be misleading.
 */
export function openFailure(path: string, cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' && path.includes('\uFFFD'))
    return 'its name is not valid UTF-8 (shown with \uFFFD), so it cannot be opened by that name; rename the file';
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return (cause as Error).message;
}

/**
 * The contents of the regular file at `path`.
 * @throws FaceedgeError `IMAGE_UNREADABLE` when it is missing, unreadable or not a regular file (FIFO,
 *   device, directory), `IMAGE_TOO_LARGE` when it is bigger than `maxBytes`.
 */
export async function readImageFile(path: string, options: ReadImageFileOptions = {}): Promise<Buffer> {
  const what = options.what ?? 'image';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_FILE_BYTES;
  const hint = options.hint ?? 'Check the path.';
  const unreadable = (reason: string, cause?: unknown) =>
    new FaceedgeError('IMAGE_UNREADABLE', `cannot read ${what} ${path}: ${reason}`, { hint, cause });
  const check = (info: Stats) => {
    if (!info.isFile())
      throw new FaceedgeError('IMAGE_UNREADABLE', `cannot read ${what} ${path}: it is ${fileKind(info)}`, {
        hint: 'Only regular files are read as images; a stream needs a camera source (mjpeg_process, v4l2, rtsp).',
      });
    if (info.size > maxBytes)
      throw new FaceedgeError(
        'IMAGE_TOO_LARGE',
        `${what} ${path} is ${(info.size / 2 ** 20).toFixed(1)} MiB, more than the limit of ${(maxBytes / 2 ** 20).toFixed(1)} MiB`,
        { hint: 'Use a smaller (re-encoded or downscaled) file.' },
      );
  };
  try {
    check(await stat(path));
  } catch (cause) {
    if (cause instanceof FaceedgeError) throw cause;
    throw unreadable(openFailure(path, cause), cause);
  }
  let handle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (cause) {
    throw unreadable(openFailure(path, cause), cause);
  }
  try {
    const info = await handle.stat();
    check(info);
    // Exactly the size fstat gave: a file that grows meanwhile is read up to that size, never without bound.
    const data = Buffer.allocUnsafe(info.size);
    let filled = 0;
    while (filled < data.length) {
      const { bytesRead } = await handle.read(data, filled, data.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === data.length ? data : data.subarray(0, filled);
  } catch (cause) {
    if (cause instanceof FaceedgeError) throw cause;
    throw unreadable((cause as Error).message, cause);
  } finally {
    await handle.close();
  }
}
