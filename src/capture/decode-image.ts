/**
 * Decodes an encoded image (JPEG, PNG, WebP, GIF first frame…) into 8-bit RGB with sharp, refusing
 * absurd sizes before decoding and flattening any alpha channel onto black.
 *
 * Damaged data is refused, not decoded into garbage: libjpeg recovers from a corrupted scan by filling the
 * rest of the picture with grey or smeared blocks and only warns ("Corrupt JPEG data: premature end of data
 * segment"); decoded anyway, such a photo was "no face" in `classify` with exit status 0, and a crop of it
 * would have been training data. So any decoder warning fails the decode (`failOn: 'warning'`), for every
 * caller alike: camera frames, `classify`, `eval`, `dataset prepare`. Measured over the training and
 * evaluation photos (README "Bad input"): no sound image is refused. A cut JPEG is recognised from its
 * bytes first (probe-image.ts), so its message does not depend on libvips' shared error buffer.
 */
import sharp from 'sharp';
import { jpegIsTruncated } from './jpeg-header.js';
import { DEFAULT_MAX_PIXELS, decoderReason, probeImage, truncatedJpegError, type ImageHeader } from './probe-image.js';
import { FaceedgeError } from '../errors.js';
import type { PixelRect, RgbImage } from './frame.js';

export interface DecodeOptions {
  /** Largest accepted width × height, checked from the header before decoding. Default 50 MP. */
  readonly maxPixels?: number;
  /** The image's header when the caller has already probed it (saves a second header parse). */
  readonly header?: ImageHeader;
  /**
   * Decode straight to this size (pixels) instead of the stored one. A JPEG is then decoded with
   * libjpeg's DCT scaling (1/2, 1/4 or 1/8, whichever sharp can use) and reduced the rest of the way
   * with Lanczos 3, so a 1280×720 frame wanted at 128×72 never exists at full size. Default: full size.
   */
  readonly size?: { readonly width: number; readonly height: number };
  /**
   * Decode only this rectangle of the (upright) image, in full resolution: libjpeg still reads the
   * compressed rows down to its bottom, but colour-converts and copies only the rectangle. Not with `size`.
   */
  readonly region?: PixelRect;
}

/** @param origin names the image in error messages (file path, `stream#12`…). */
export async function decodeImage(data: Buffer, origin: string, options: DecodeOptions = {}): Promise<RgbImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = options.header ?? (await probeImage(data, { maxPixels, origin }));
  if (header.format === 'jpeg' && jpegIsTruncated(data)) throw truncatedJpegError(origin);
  try {
    let pipeline = sharp(data, { limitInputPixels: maxPixels, failOn: 'warning' }).rotate(); // honour EXIF orientation: phones and some cameras store portrait shots sideways
    if (options.region) pipeline = pipeline.extract(options.region);
    if (options.size)
      pipeline = pipeline.resize(options.size.width, options.size.height, { fit: 'fill', fastShrinkOnLoad: true });
    const { data: pixels, info } = await pipeline
      .flatten({ background: { r: 0, g: 0, b: 0 } })
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { kind: 'rgb', data: pixels, width: info.width, height: info.height };
  } catch (cause) {
    throw new FaceedgeError(
      'IMAGE_UNREADABLE',
      `${origin}: corrupt image data, cannot decode (${decoderReason(cause)})`,
      {
        hint: 'The file or frame is damaged; copy it again, or check the camera and its cable.',
        cause,
      },
    );
  }
}
