/**
 * What every frame source produces. Frames are plain data; the pipeline's decode stage turns an
 * encoded frame into RGB pixels, so sources never pay for decoding a frame that will be dropped.
 */

/** Interleaved 8-bit RGB pixels, row-major, no padding (`data.length === width * height * 3`). */
export interface RgbImage {
  readonly kind: 'rgb';
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

/** A rectangle of source pixels: columns [left, left + width), rows [top, top + height). */
export interface PixelRect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** A compressed image exactly as the source delivered it (one JPEG of an MJPEG stream, a PNG file…). */
export interface EncodedImage {
  readonly kind: 'encoded';
  readonly data: Buffer;
  /** Where it came from, for error messages (file path, `stream#seq`…). */
  readonly origin: string;
}

export interface Frame {
  /** 0-based, increases by one per frame produced by this source (dropped frames included). */
  readonly seq: number;
  /** Monotonic capture time in milliseconds (`performance.now()` clock of this process). */
  readonly timestampMs: number;
  /** Wall-clock capture time, ms since the Unix epoch, for event payloads. */
  readonly wallTimeMs: number;
  readonly image: RgbImage | EncodedImage;
}
