/**
 * One camera's pictures for the live view: the latest processed frame as a JPEG, with the faces tracked in
 * it as data (`tracks`) that the page draws over the picture, shared by every viewer of that camera.
 *
 * The page draws the boxes and labels, not the server: labels then read at the size of the page's text
 * whatever the camera's resolution (a bitmap font burnt into a 480×270 picture was 7 pixels high), and a
 * camera's own JPEG goes out as it came, with no decode, drawing or encode at all (measured at 480×270
 * with two faces: 5.8 ms of CPU per picture burnt in, 0.02 ms passed on; README "Live view").
 *
 * Cost control: with no subscriber `offer()` returns at once (nothing is copied or encoded). Pictures
 * follow the camera's own rate up to `maxFps`: a token bucket, so a 12 fps camera shows all 12 frames
 * (a fixed minimum gap dropped every second one: 6 of 12) and a 400 frames/s file is cut to `maxFps`.
 * Frames that are not JPEGs (a GIF's or a video's pixels, a PNG) are encoded once, one encode at a time;
 * a frame arriving meanwhile waits as the next one (a newer one replaces it), so slow encodes lower the
 * rate without skipping in a fixed pattern.
 */
import sharp from 'sharp';
import type { Logger } from 'pino';
import { looksLikeJpeg } from '../capture/jpeg-header.js';
import type { Frame } from '../capture/frame.js';
import type { VisibleTrack } from '../pipeline/face-tracker.js';
import type { TrackSnapshot } from '../pipeline/track-event.js';
import type { Box } from '../vision/face.js';
import { framePixels } from './frame-pixels.js';

/** A tracked face as the page draws it over the picture (box in the picture's pixels). */
export interface LiveTrack {
  readonly id: string;
  readonly class: string;
  /** Confidence of `class`, [0.5, 1], 3 decimals. */
  readonly score: number;
  /** False until the track's `new` event is out (drawn grey, its label ending in `?`). */
  readonly confirmed: boolean;
  /** Position of `class` in the serving model's labels (it picks the colour); -1 for `unknown`. */
  readonly label_index: number;
  readonly box: Box;
  /** Every model's decision by name, the first model's first (as in events); absent on a tracker without names. */
  readonly attributes?: TrackSnapshot['attributes'];
  /** With recognition on: the name (null: nobody, or not decided yet) and the liveness outcome (issue 23). */
  readonly person?: string | null;
  readonly liveness?: 'live' | 'attack' | 'unknown';
}

/** A picture for the live view; immutable once published (viewers share the buffer). */
export interface OverlayPicture {
  readonly jpeg: Buffer;
  /** Seq of the source frame. */
  readonly seq: number;
  /** Wall-clock capture time of the source frame, ms since the epoch. */
  readonly wallTimeMs: number;
  /** Faces tracked in it. */
  readonly faces: number;
  /** Those faces, as JSON that is plain ASCII (an HTTP header value): the `x-faceedge-tracks` header. */
  readonly tracksJson: string;
}

export type OverlayListener = (picture: OverlayPicture) => void;

export interface OverlayFeedOptions {
  /** The classifier's labels (their order picks the box colours); a function because models can be swapped. */
  readonly labels: () => readonly string[];
  readonly log: Logger;
  /** Most pictures per second (`Infinity`: every frame). Default {@link DEFAULT_LIVE_FPS}. */
  readonly maxFps?: number;
  /** JPEG quality of encoded pictures (frames that are not JPEGs already), 1–100. Default 75. */
  readonly quality?: number;
}

/**
 * Cap of the picture stream, pictures per second per camera: 30. Cameras at or below it are shown at
 * their own rate; above it (a file played as fast as the pipeline goes) pictures are dropped evenly.
 */
export const DEFAULT_LIVE_FPS = 30;

/** Pictures the rate limit lets through back to back after a pause (absorbs a camera's frame jitter). */
const BURST = 2;

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** JSON with every non-ASCII character escaped (`\u00e9`), so it can travel as an HTTP header value. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The tracks of a frame as the page draws them; `labels` are the serving model's. */
export function liveTracks(tracks: readonly VisibleTrack[], labels: readonly string[]): LiveTrack[] {
  return tracks.map((t) => ({
    id: t.id,
    class: t.class,
    score: Math.round(t.score * 1000) / 1000,
    confirmed: t.confirmed,
    label_index: labels.indexOf(t.class),
    box: { x: round1(t.box.x), y: round1(t.box.y), width: round1(t.box.width), height: round1(t.box.height) },
    ...(t.attributes && { attributes: t.attributes }),
    ...(t.person ? { person: t.person.name } : {}),
    ...(t.liveness ? { liveness: t.liveness.outcome } : {}),
  }));
}

/** A frame waiting for its encode, with its tracks as they were when it was offered. */
interface Offered {
  readonly frame: Frame;
  readonly tracks: readonly LiveTrack[];
}

export class OverlayFeed {
  readonly #o: OverlayFeedOptions;
  readonly #listeners = new Set<OverlayListener>();
  #latest: OverlayPicture | null = null;
  #encoding = false;
  #next: Offered | null = null;
  #tokens = BURST;
  #refilledAt = -Infinity;
  #published = 0;

  constructor(options: OverlayFeedOptions) {
    this.#o = options;
  }

  /** True while at least one viewer is subscribed. */
  get watched(): boolean {
    return this.#listeners.size > 0;
  }

  /** Pictures published so far (each one shared by every viewer of its moment). */
  get encodedCount(): number {
    return this.#published;
  }

  /** The last picture published, or null; it may be old when nobody has watched for a while. */
  get latest(): OverlayPicture | null {
    return this.#latest;
  }

  /** Calls `listener` with every new picture until the returned function is called. */
  subscribe(listener: OverlayListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * A processed frame and (lazily, only when it will be shown) the faces tracked in it. Returns
   * synchronously; `tracks` is called before returning, so it sees the tracker as of this frame.
   */
  offer(frame: Frame, tracks: () => readonly VisibleTrack[]): void {
    if (this.#listeners.size === 0 || !this.#takeToken()) return;
    const offered = { frame, tracks: liveTracks(tracks(), this.#o.labels()) };
    const image = frame.image;
    // A camera's JPEG is shown as it came: no decode, no drawing, no encode.
    if (image.kind === 'encoded' && looksLikeJpeg(image.data)) {
      this.#publish(offered, Buffer.from(image.data));
      return;
    }
    if (this.#encoding) {
      this.#next = offered;
      return;
    }
    this.#encode(offered);
  }

  /** Token bucket at `maxFps` with a burst of {@link BURST}: the camera's own rate passes up to the cap. */
  #takeToken(): boolean {
    const rate = this.#o.maxFps ?? DEFAULT_LIVE_FPS;
    if (rate === Infinity) return true;
    const now = performance.now();
    this.#tokens = Math.min(BURST, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #encode(offered: Offered): void {
    this.#encoding = true;
    this.#jpegOf(offered.frame)
      .then(
        (jpeg) => this.#publish(offered, jpeg),
        // A frame the pipeline could use but we cannot (it decoded it a moment ago) is not worth more than a debug line.
        (err: Error) => this.#o.log.debug({ seq: offered.frame.seq, err: err.message }, 'live picture skipped'),
      )
      .finally(() => {
        this.#encoding = false;
        const next = this.#next;
        this.#next = null;
        if (next && this.#listeners.size > 0) this.#encode(next);
      });
  }

  async #jpegOf(frame: Frame): Promise<Buffer> {
    // RGB frames are read in place: frames are immutable once produced, and nothing here draws on them.
    const image = frame.image.kind === 'rgb' ? frame.image : await framePixels(frame);
    return (
      sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
        // Huffman table optimisation costs ~40 % more encode time here for ~10 % fewer bytes: not worth it for a live picture.
        .jpeg({ quality: this.#o.quality ?? 75, optimiseCoding: false })
        .toBuffer()
    );
  }

  #publish({ frame, tracks }: Offered, jpeg: Buffer): void {
    const picture: OverlayPicture = {
      jpeg,
      seq: frame.seq,
      wallTimeMs: frame.wallTimeMs,
      faces: tracks.length,
      tracksJson: asciiJson(tracks),
    };
    this.#latest = picture;
    this.#published++;
    for (const listener of [...this.#listeners]) listener(picture);
  }
}
