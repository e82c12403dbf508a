/**
 * A frame's pixels as an RGB image the live view may draw on or crop: a private copy of an RGB frame
 * (the pipeline and other viewers still read the original), or a fresh decode of an encoded one.
 * Decoding again costs ~1 ms at 480×270 and happens only for frames someone is watching.
 */
import type { Frame, RgbImage } from '../capture/frame.js';
import { decodeImage } from '../capture/decode-image.js';

/** Pixels of `frame` in a buffer owned by the caller. Rejects with `IMAGE_UNREADABLE` like the pipeline's decode. */
export async function framePixels(frame: Frame): Promise<RgbImage> {
  const image = frame.image;
  if (image.kind === 'rgb') return { ...image, data: Buffer.from(image.data) };
  return decodeImage(image.data, image.origin);
}
