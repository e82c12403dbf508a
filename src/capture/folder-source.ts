/**
 * The images of a folder, in file-name order (numeric-aware), as a source (a directory of test scenes, frames dumped by
 * another tool). Files are only probed here (header: format, size, pixel limit) and handed on encoded, so a
 * frame the pipeline drops is never decoded. Unreadable files are skipped, and reported once each (not on
 * every loop), until they read again.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { PlaybackSource, type PlaybackOptions, type TimedImage } from './playback-source.js';
import { DEFAULT_MAX_PIXELS, probeImage } from './probe-image.js';
import { readImageFile } from './read-image-file.js';
import { DEFAULT_STILL_FPS } from './still-image-source.js';

/** File extensions the folder source picks up (lower case). */
export const FOLDER_IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.bmp'];

/** Options of {@link FolderSource}. */
export interface FolderSourceOptions extends PlaybackOptions {
  /** Folder to read; not recursive. */
  readonly path: string;
  /** Largest accepted width × height in pixels per image. Default 50 MP. */
  readonly maxPixels?: number;
}

export class FolderSource extends PlaybackSource {
  readonly name: string;
  /** Files whose problem has been reported; a file leaves the set once it reads again. */
  readonly #reported = new Set<string>();

  readonly #options: FolderSourceOptions;

  constructor(options: FolderSourceOptions) {
    super(options);
    this.#options = options;
    this.name = options.name ?? `folder:${basename(options.path)}`;
  }

  /** @throws FaceedgeError `SOURCE_FAILED` when the folder is missing or holds no image file. */
  protected async open(): Promise<void> {
    const files = await this.#list();
    if (files.length === 0) {
      throw new FaceedgeError('SOURCE_FAILED', `folder ${this.#options.path} holds no image file`, {
        hint: `Put ${FOLDER_IMAGE_EXTENSIONS.join(', ')} files in it.`,
      });
    }
  }

  /** Lists again on every pass, so files added while looping are picked up. */
  protected async *pass(signal: AbortSignal): AsyncIterable<TimedImage> {
    const files = await this.#list();
    for (const file of files) {
      if (signal.aborted) return;
      let data: Buffer;
      try {
        data = await readImageFile(file);
        await probeImage(data, { maxPixels: this.#options.maxPixels ?? DEFAULT_MAX_PIXELS, origin: file });
      } catch (err) {
        const error = isFaceedgeError(err)
          ? err
          : new FaceedgeError('IMAGE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
        // Counted on every pass, told once: a looping folder would repeat the same warning each time round.
        this.skip(error, { report: !this.#reported.has(file) });
        this.#reported.add(file);
        continue;
      }
      this.#reported.delete(file);
      yield { image: { kind: 'encoded', data, origin: file }, delayMs: 1000 / DEFAULT_STILL_FPS };
    }
  }

  async #list(): Promise<string[]> {
    const dir = this.#options.path;
    let names: string[];
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
      names = await readdir(dir);
    } catch (cause) {
      throw new FaceedgeError('SOURCE_FAILED', `cannot read folder ${dir}: ${(cause as Error).message}`, {
        hint: 'Check the source path in the configuration.',
        cause,
      });
    }
    return (
      names
        .filter((n) => FOLDER_IMAGE_EXTENSIONS.some((ext) => n.toLowerCase().endsWith(ext)))
        // Numeric-aware so frame2.jpg comes before frame10.jpg; zero-padded names sort the same either way.
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .map((n) => join(dir, n))
    );
  }
}
