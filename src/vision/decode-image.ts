/**
 * Decodes an encoded image (JPEG, PNG, WebP, GIF first frame…) into 8-bit RGB with sharp, refusing
 * absurd sizes before decoding and flattening any alpha channel onto black.
 */
import sharp, { type Metadata } from 'sharp';
import { FaceedgeError } from '../errors.js';
import type { RgbImage } from '../capture/frame.js';

export interface DecodeOptions {
  /** Largest accepted width × height, checked from the header before decoding. Default 50 MP. */
  readonly maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 50_000_000;

/** @param origin names the image in error messages (file path, `stream#12`…). */
export async function decodeImage(data: Buffer, origin: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  let meta: Metadata;
  try {
    meta = await sharp(data, { limitInputPixels: false }).metadata();
  } catch (cause) {
    throw new FaceedgeError('IMAGE_UNREADABLE', `${origin}: not a readable image (${(cause as Error).message})`, { cause });
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > maxPixels) {
    throw new FaceedgeError('IMAGE_TOO_LARGE', `${origin}: ${width}×${height} exceeds the ${maxPixels}-pixel limit`, {
      hint: 'downscale the image or raise the pixel limit',
    });
  }
  try {
    const { data: pixels, info } = await sharp(data, { limitInputPixels: maxPixels, failOn: 'truncated' })
      .rotate() // honour EXIF orientation: phones and some cameras store portrait shots sideways
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { kind: 'rgb', data: pixels, width: info.width, height: info.height };
  } catch (cause) {
    throw new FaceedgeError('IMAGE_UNREADABLE', `${origin}: cannot decode (${(cause as Error).message})`, { cause });
  }
}
