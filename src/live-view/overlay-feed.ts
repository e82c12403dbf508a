/**
 * One camera's overlay picture for the live view: the latest processed frame with its tracked faces
 * drawn on it, JPEG-encoded once and shared by every viewer of that camera.
 *
 * Cost control: with no subscriber `offer()` returns at once (nothing is copied, decoded or encoded);
 * with subscribers at most one encode runs at a time and at most `maxFps` per second, so a 400 frames/s
 * pipeline pays for 10 pictures a second, not 400. Frames offered meanwhile are simply not shown. A
 * JPEG frame without faces is passed on as it is (a copy, no decode or encode).
 */
import sharp from 'sharp';
import type { Logger } from 'pino';
import type { Frame } from '../capture/frame.js';
import type { VisibleTrack } from '../pipeline/face-tracker.js';
import { drawTracks } from './draw-tracks.js';
import { framePixels } from './frame-pixels.js';

/** An encoded overlay picture; immutable once published (viewers share the buffer). */
export interface OverlayPicture {
  readonly jpeg: Buffer;
  /** Seq of the source frame. */
  readonly seq: number;
  /** Wall-clock capture time of the source frame, ms since the epoch. */
  readonly wallTimeMs: number;
  /** Faces drawn on it. */
  readonly faces: number;
}

export type OverlayListener = (picture: OverlayPicture) => void;

export interface OverlayFeedOptions {
  /** The classifier's labels (they pick the box colours); a function because models can be swapped. */
  readonly labels: () => readonly string[];
  readonly log: Logger;
  /** Most pictures encoded per second. Default {@link DEFAULT_LIVE_FPS}. */
  readonly maxFps?: number;
  /** JPEG quality, 1–100. Default 75. */
  readonly quality?: number;
}

/** True for JPEG data (its SOI marker and the first segment's marker prefix). */
function isJpeg(data: Buffer): boolean {
  return data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
}

/** Default cap of the overlay stream, pictures per second per camera. */
export const DEFAULT_LIVE_FPS = 10;

export class OverlayFeed {
  readonly #o: OverlayFeedOptions;
  readonly #listeners = new Set<OverlayListener>();
  #latest: OverlayPicture | null = null;
  #encoding = false;
  #lastEncodeAt = -Infinity;
  #encoded = 0;

  constructor(options: OverlayFeedOptions) {
    this.#o = options;
  }

  /** True while at least one viewer is subscribed. */
  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  /** Pictures encoded so far (each one shared by every viewer of its moment). */
  get encodedCount(): number {
    return this.#encoded;
  }

  /** The last picture encoded, or null; it may be old when nobody has watched for a while. */
  get latest(): OverlayPicture | null {
    return this.#latest;
  }

  /** Calls `listener` with every new picture until the returned function is called. */
  subscribe(listener: OverlayListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * A processed frame and (lazily, only when it will be drawn) the faces tracked in it. Returns
   * synchronously; the encode runs on libvips' thread and is published when done. `tracks` is called
   * before returning, so it sees the tracker as of this frame.
   */
  offer(frame: Frame, tracks: () => readonly VisibleTrack[]): void {
    if (this.#listeners.size === 0 || this.#encoding) return;
    const now = performance.now();
    if (now - this.#lastEncodeAt < 1000 / (this.#o.maxFps ?? DEFAULT_LIVE_FPS)) return;
    this.#lastEncodeAt = now;
    this.#encoding = true;
    const faces = tracks();
    this.#encode(frame, faces)
      .then(
        (picture) => {
          this.#latest = picture;
          this.#encoded++;
          for (const listener of [...this.#listeners]) listener(picture);
        },
        // A frame the pipeline could use but we cannot (it decoded it a moment ago) is not worth more than a debug line.
        (err: Error) => this.#o.log.debug({ seq: frame.seq, err: err.message }, 'overlay picture skipped'),
      )
      .finally(() => {
        this.#encoding = false;
      });
  }

  async #encode(frame: Frame, tracks: readonly VisibleTrack[]): Promise<OverlayPicture> {
    const picture = { seq: frame.seq, wallTimeMs: frame.wallTimeMs, faces: tracks.length };
    // Nothing to draw on a camera's own JPEG: it is shown as it came, without decoding or encoding it.
    if (tracks.length === 0 && frame.image.kind === 'encoded' && isJpeg(frame.image.data))
      return { ...picture, jpeg: Buffer.from(frame.image.data) };
    const image = await framePixels(frame);
    drawTracks(image, tracks, this.#o.labels());
    const jpeg = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      // Huffman table optimisation costs ~40 % more encode time here for ~10 % fewer bytes: not worth it for a live picture.
      .jpeg({ quality: this.#o.quality ?? 75, optimiseCoding: false })
      .toBuffer();
    return { ...picture, jpeg };
  }
}
