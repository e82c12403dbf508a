/**
 * Decodes an encoded image (JPEG, PNG, WebP, GIF first frame…) into 8-bit RGB with sharp, refusing
 * absurd sizes before decoding and flattening any alpha channel onto black.
 */
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS, libvipsReason, probeImage } from '../capture/probe-image.js';
import { FaceedgeError } from '../errors.js';
import type { RgbImage } from '../capture/frame.js';

export interface DecodeOptions {
  /** Largest accepted width × height, checked from the header before decoding. Default 50 MP. */
  readonly maxPixels?: number;
}

/** @param origin names the image in error messages (file path, `stream#12`…). */
export async function decodeImage(data: Buffer, origin: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  await probeImage(data, { maxPixels, origin });
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
    throw new FaceedgeError('IMAGE_UNREADABLE', `${origin}: cannot decode (${libvipsReason(cause)})`, { cause });
  }
}
