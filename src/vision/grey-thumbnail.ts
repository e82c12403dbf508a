/**
 * A tiny grey picture of a frame (32 pixels wide by default) for motion measurement: each pixel is the
 * mean luma (BT.601 weights) of its cell of the frame, so sensor noise averages out and the cost does
 * not depend on the frame size (at most 4×4 samples per cell).
 */
import type { RgbImage } from '../capture/frame.js';

/** Width of the motion thumbnail, pixels. Its height follows the frame's aspect ratio. */
export const THUMBNAIL_WIDTH = 32;

/** A grey image, one float per pixel in [0, 255], row-major. */
export interface GreyImage {
  readonly data: Float32Array;
  readonly width: number;
  readonly height: number;
}

/** Samples per cell side at most: enough to average noise, bounded for big frames. */
const SAMPLES_PER_SIDE = 4;

export function greyThumbnail(image: RgbImage, width = THUMBNAIL_WIDTH): GreyImage {
  const tw = Math.max(1, Math.min(width, image.width));
  const th = Math.max(1, Math.min(image.height, Math.round((tw * image.height) / image.width)));
  const out = new Float32Array(tw * th);
  const { data } = image;
  for (let cy = 0; cy < th; cy++) {
    const y0 = Math.floor((cy * image.height) / th);
    const y1 = Math.max(y0 + 1, Math.floor(((cy + 1) * image.height) / th));
    const stepY = Math.max(1, Math.floor((y1 - y0) / SAMPLES_PER_SIDE));
    for (let cx = 0; cx < tw; cx++) {
      const x0 = Math.floor((cx * image.width) / tw);
      const x1 = Math.max(x0 + 1, Math.floor(((cx + 1) * image.width) / tw));
      const stepX = Math.max(1, Math.floor((x1 - x0) / SAMPLES_PER_SIDE));
      let sum = 0;
      let n = 0;
      for (let y = y0; y < y1; y += stepY) {
        for (let x = x0, i = (y * image.width + x0) * 3; x < x1; x += stepX, i += 3 * stepX) {
          sum += 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
          n++;
        }
      }
      out[cy * tw + cx] = sum / n;
    }
  }
  return { data: out, width: tw, height: th };
}
