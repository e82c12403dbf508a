/**
 * One image file as a source: shown once, or repeated at `fps` when looping (a fixed test scene, the
 * snapshot of a door camera). The image is decoded once at start, since every frame is the same picture.
 */
import { basename } from 'node:path';
import { decodeImage } from './decode-image.js';
import type { RgbImage } from './frame.js';
import { PlaybackSource, type PlaybackOptions, type TimedImage } from './playback-source.js';
import { DEFAULT_MAX_PIXELS } from './probe-image.js';
import { readImageFile } from './read-image-file.js';

/** Frame rate of stills and folders when `fps` is unset: 1 frame per second. */
export const DEFAULT_STILL_FPS = 1;

/** Options of {@link StillImageSource}. */
export interface StillImageSourceOptions extends PlaybackOptions {
  /** Image file (JPEG, PNG, WebP, GIF first page, TIFF). */
  readonly path: string;
  /** Largest accepted width × height in pixels. Default 50 MP. */
  readonly maxPixels?: number;
}

export class StillImageSource extends PlaybackSource {
  readonly name: string;
  #image: RgbImage | null = null;

  readonly #options: StillImageSourceOptions;

  constructor(options: StillImageSourceOptions) {
    super(options);
    this.#options = options;
    this.name = options.name ?? `image:${basename(options.path)}`;
  }

  /**
   * @throws FaceedgeError `IMAGE_UNREADABLE` (missing, not a regular file, corrupt) or `IMAGE_TOO_LARGE` (file size
   *   or pixels): with a single image there is nothing to skip to.
   */
  protected async open(): Promise<void> {
    const { path } = this.#options;
    const data = await readImageFile(path, { hint: 'Check the source path in the configuration.' });
    // The decoder checks the pixel limit on the header before it allocates any pixels.
    this.#image = await decodeImage(data, path, { maxPixels: this.#options.maxPixels ?? DEFAULT_MAX_PIXELS });
  }

  protected async *pass(): AsyncIterable<TimedImage> {
    const image = this.#image!;
    // A fresh copy per frame: consumers may draw on or keep a frame, and must not change the next one.
    yield {
      image: { ...image, data: Buffer.from(image.data) },
      delayMs: 1000 / DEFAULT_STILL_FPS,
    };
  }
}
