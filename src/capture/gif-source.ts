/**
 * An animated GIF as a source: full composed RGB frames played at the GIF's own frame delays (or at `fps`,
 * or as fast as the consumer takes them), once or looping. The demo runs on this.
 */
import { basename } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { GifComposer } from './gif-composer.js';
import { PlaybackSource, type PlaybackOptions, type TimedImage } from './playback-source.js';
import { DEFAULT_MAX_PIXELS } from './probe-image.js';
import { readImageFile } from './read-image-file.js';

/** Options of {@link GifSource}. */
export interface GifSourceOptions extends PlaybackOptions {
  /** GIF file. */
  readonly path: string;
  /** Largest accepted canvas width × height in pixels. Default 50 MP. */
  readonly maxPixels?: number;
}

export class GifSource extends PlaybackSource {
  readonly name: string;
  #composer: GifComposer | null = null;

  readonly #options: GifSourceOptions;

  constructor(options: GifSourceOptions) {
    super(options);
    this.#options = options;
    this.name = options.name ?? `gif:${basename(options.path)}`;
  }

  /** Canvas size and frame count, known after `start()`. */
  get info(): { width: number; height: number; frameCount: number } | null {
    const c = this.#composer;
    return c ? { width: c.width, height: c.height, frameCount: c.frameCount } : null;
  }

  /**
   * @throws FaceedgeError `IMAGE_UNREADABLE` (missing, not a regular file, not a GIF, no whole frame) or
   *   `IMAGE_TOO_LARGE` (file size or canvas).
   * A truncated GIF opens: its whole frames play and the cut is reported to the sink as a skipped input.
   */
  protected async open(): Promise<void> {
    const data = await readImageFile(this.#options.path, {
      what: 'GIF',
      hint: 'Check the source path in the configuration.',
    });
    this.#composer = GifComposer.fromBuffer(data, {
      maxPixels: this.#options.maxPixels ?? DEFAULT_MAX_PIXELS,
      origin: this.#options.path,
    });
    // The whole frames play; the cut one counts as skipped, reported once (not on every loop).
    if (this.#composer.truncation) {
      this.skip(
        new FaceedgeError('IMAGE_UNREADABLE', this.#composer.truncation, {
          hint: 'Copy the file again; a GIF ends with a trailer byte after its last frame.',
        }),
      );
    }
  }

  protected async *pass(): AsyncIterable<TimedImage> {
    yield* this.#composer!.frames();
  }
}
