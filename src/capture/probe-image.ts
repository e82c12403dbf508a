/**
 * Reads an image's header (format and size) without decoding its pixels, and enforces the pixel limit
 * there: a 20000x20000 PNG is 1.2 GB of RGB, which must be refused before libvips allocates it.
 */
import sharp, { type Metadata } from 'sharp';
import { FaceedgeError } from '../errors.js';
import { jpegIsTruncated, parseJpegHeader } from './jpeg-header.js';

/** Default largest image accepted, in pixels (width × height): 50 megapixels. */
export const DEFAULT_MAX_PIXELS = 50_000_000;

/** What the header says. */
export interface ImageHeader {
  /** Stored width in pixels (before any EXIF rotation). */
  readonly width: number;
  /** Stored height in pixels (before any EXIF rotation). */
  readonly height: number;
  /** sharp's format name: `jpeg`, `png`, `webp`, `gif`, `tiff`… */
  readonly format: string;
  /** EXIF orientation (1–8); absent when the image has none (= 1, stored upright). */
  readonly orientation?: number;
}

/** Options of {@link probeImage}. */
export interface ProbeImageOptions {
  /** Largest accepted width × height in pixels. Default {@link DEFAULT_MAX_PIXELS}. */
  readonly maxPixels?: number;
  /** Name used in error messages; defaults to the path, or `buffer`. */
  readonly origin?: string;
}

/**
 * sharp's message for a failed read, on one line. libvips accumulates its decoder's complaints in an
 * error buffer, so one bad JPEG yields "…: VipsJpeg: X\nVipsJpeg: X\nVipsJpeg: X": printed as is, the
 * repeats look like stray library warnings around the clean error. Each distinct line is kept once.
 */
export function libvipsReason(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  const lines = [
    ...new Set(
      text
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ];
  // "Input file has corrupt header: VipsJpeg: X" followed by "VipsJpeg: X": the later copies add nothing.
  return lines.filter((l, i) => !lines.slice(0, i).some((earlier) => earlier.endsWith(l))).join('; ');
}

/**
 * sharp's own words around libvips' message, which say nothing about the image: the line it adds when a
 * decoder warning is made an error (`failOn: 'warning'`, see decode-image.ts) and the text it uses when
 * libvips' shared error buffer came back empty.
 */
const SHARP_FILLER = new Set(['Warning treated as error due to failOn setting', 'Unknown error']);

/**
 * Why libvips refused an image, for a message: {@link libvipsReason} without sharp's filler, or a plain
 * statement when nothing else is left (libvips' error buffer is shared by every decode in flight, so a
 * failure's text sometimes comes back empty).
 */
export function decoderReason(cause: unknown): string {
  const reason = libvipsReason(cause)
    .split('; ')
    .filter((part) => !SHARP_FILLER.has(part))
    .join('; ');
  return reason === '' ? 'the decoder gave no detail' : reason;
}

/**
 * The error for a JPEG that stops before its end-of-image marker (jpeg-header.ts `jpegIsTruncated`): one
 * message wherever the cut image turns up, a camera source, a folder, `classify` or `eval`.
 */
export function truncatedJpegError(origin: string): FaceedgeError {
  return new FaceedgeError(
    'IMAGE_UNREADABLE',
    `${origin}: premature end of JPEG image: the data stops before its end-of-image marker (cut short)`,
    { hint: 'Copy the file again, or check what writes it; a JPEG ends with the bytes FF D9.' },
  );
}

/**
 * Reads the header of an image file or buffer.
 * @throws FaceedgeError `IMAGE_UNREADABLE` when it is missing or not an image sharp can read,
 *   `IMAGE_TOO_LARGE` when width × height exceeds `maxPixels`.
 */
export async function probeImage(input: Buffer | string, options: ProbeImageOptions = {}): Promise<ImageHeader> {
  const origin = options.origin ?? (typeof input === 'string' ? input : 'buffer');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  // Camera frames are JPEGs: their markers answer without a trip through libvips (jpeg-header.ts).
  const jpeg = typeof input === 'string' ? null : parseJpegHeader(input);
  if (jpeg) {
    assertPixelLimit(jpeg.width, jpeg.height, maxPixels, origin);
    return { ...jpeg, format: 'jpeg' };
  }
  if (typeof input !== 'string' && jpegIsTruncated(input)) throw truncatedJpegError(origin);
  let meta: Metadata;
  try {
    // limitInputPixels: false here because the limit is checked below with a clearer error.
    meta = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new FaceedgeError('IMAGE_UNREADABLE', `cannot read image ${origin}: ${decoderReason(cause)}`, {
      hint: 'Check that the file exists and is a JPEG, PNG, WebP, GIF or TIFF image.',
      cause,
    });
  }
  const { width, height, format, orientation } = meta;
  if (!width || !height || !format) {
    throw new FaceedgeError('IMAGE_UNREADABLE', `image ${origin} has no readable size`);
  }
  assertPixelLimit(width, height, maxPixels, origin);
  return orientation === undefined ? { width, height, format } : { width, height, format, orientation };
}

/**
 * Throws `IMAGE_TOO_LARGE` when `width × height` exceeds `maxPixels`.
 * Exported for sources that learn the size another way (a video stream, a GIF's logical screen).
 */
export function assertPixelLimit(width: number, height: number, maxPixels: number, origin: string): void {
  if (width * height > maxPixels) {
    throw new FaceedgeError(
      'IMAGE_TOO_LARGE',
      `${origin} is ${width}x${height} = ${((width * height) / 1e6).toFixed(1)} MP, more than the limit of ` +
        `${(maxPixels / 1e6).toFixed(1)} MP`,
      { hint: 'Downscale the image, or raise the capture pixel limit (max_pixels) if the board has the memory.' },
    );
  }
}
