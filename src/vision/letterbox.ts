/**
 * Fits an RGB image into the detector's square input without distorting it (scale to fit, pad the
 * rest), as MediaPipe does, and maps normalized model coordinates back to source pixels.
 */
import sharp from 'sharp';
import type { RgbImage } from '../capture/frame.js';

export interface Letterbox {
  /** Square side of the model input, pixels. */
  readonly size: number;
  /** Size of the resized image inside the square, model-input pixels. */
  readonly width: number;
  readonly height: number;
  /** Source pixels per model-input pixel, horizontally and vertically (equal up to rounding). */
  readonly scaleX: number;
  readonly scaleY: number;
  /** Padding added on the left / top, model-input pixels. */
  readonly padX: number;
  readonly padY: number;
}

export function computeLetterbox(width: number, height: number, size: number): Letterbox {
  const fit = Math.min(size / width, size / height);
  const w = Math.max(1, Math.round(width * fit));
  const h = Math.max(1, Math.round(height * fit));
  return { size, width: w, height: h, scaleX: width / w, scaleY: height / h, padX: Math.floor((size - w) / 2), padY: Math.floor((size - h) / 2) };
}

/** Resized + padded RGB bytes (size × size × 3) for `box`. Padding is black, as in MediaPipe. */
export async function letterboxImage(image: RgbImage, box: Letterbox): Promise<Buffer> {
  const { width: w, height: h } = box;
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .resize(w, h, { fit: 'fill', kernel: 'linear' })
    .extend({ left: box.padX, top: box.padY, right: box.size - w - box.padX, bottom: box.size - h - box.padY, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
}

/** Normalized model-input x → source pixel x. */
export function toSourceX(box: Letterbox, nx: number): number {
  return (nx * box.size - box.padX) * box.scaleX;
}

/** Normalized model-input y → source pixel y. */
export function toSourceY(box: Letterbox, ny: number): number {
  return (ny * box.size - box.padY) * box.scaleY;
}
