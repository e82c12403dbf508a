/**
 * Fits an RGB image into the detector's square input without distorting it (scale to fit, pad the
 * rest), as MediaPipe does, and maps normalized model coordinates back to source pixels.
 */
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
  return {
    size,
    width: w,
    height: h,
    scaleX: width / w,
    scaleY: height / h,
    padX: Math.floor((size - w) / 2),
    padY: Math.floor((size - h) / 2),
  };
}

/** Bilinear sample positions along one axis: for output i and tap t, two indices and a weight. */
interface AxisTaps {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  readonly frac: Float32Array;
}

function axisTaps(outSize: number, scale: number, taps: number, max: number): AxisTaps {
  const n = outSize * taps;
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  const frac = new Float32Array(n);
  for (let i = 0; i < outSize; i++) {
    for (let t = 0; t < taps; t++) {
      const s = Math.min(max, Math.max(0, (i + (t + 0.5) / taps) * scale - 0.5));
      const k = i * taps + t;
      lo[k] = Math.floor(s);
      hi[k] = Math.min(max, lo[k] + 1);
      frac[k] = s - lo[k];
    }
  }
  return { lo, hi, frac };
}

/** The sampling tables of one source size → letterbox; the same for every frame of a camera. */
export interface LetterboxTables {
  readonly taps: number;
  readonly xs: AxisTaps;
  readonly ys: AxisTaps;
}

export function letterboxTables(width: number, height: number, box: Letterbox): LetterboxTables {
  const taps = Math.max(box.scaleX, box.scaleY) > 2 ? 2 : 1;
  return {
    taps,
    xs: axisTaps(box.width, box.scaleX, taps, width - 1),
    ys: axisTaps(box.height, box.scaleY, taps, height - 1),
  };
}

/**
 * Writes the letterboxed image straight into the detector's float input, normalized to [-1, 1]
 * (padding = black = -1). Resampling is bilinear with 2×2 supersampling when shrinking by more than
 * 2×, enough anti-aliasing for a detector, without a round trip through an image library per frame.
 */
export function letterboxInto(
  image: RgbImage,
  box: Letterbox,
  target: Float32Array,
  tables = letterboxTables(image.width, image.height, box),
): void {
  const { size, padX, padY } = box;
  const { data, width } = image;
  const { taps, xs, ys } = tables;
  const weight = 1 / (taps * taps * 127.5);
  target.fill(-1);
  for (let oy = 0; oy < box.height; oy++) {
    let o = ((oy + padY) * size + padX) * 3;
    for (let ox = 0; ox < box.width; ox++, o += 3) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let ty = oy * taps, tyEnd = ty + taps; ty < tyEnd; ty++) {
        const row0 = ys.lo[ty] * width;
        const row1 = ys.hi[ty] * width;
        const fy = ys.frac[ty];
        for (let tx = ox * taps, txEnd = tx + taps; tx < txEnd; tx++) {
          const fx = xs.frac[tx];
          const i00 = (row0 + xs.lo[tx]) * 3;
          const i01 = (row0 + xs.hi[tx]) * 3;
          const i10 = (row1 + xs.lo[tx]) * 3;
          const i11 = (row1 + xs.hi[tx]) * 3;
          const w00 = (1 - fx) * (1 - fy);
          const w01 = fx * (1 - fy);
          const w10 = (1 - fx) * fy;
          const w11 = fx * fy;
          r += data[i00] * w00 + data[i01] * w01 + data[i10] * w10 + data[i11] * w11;
          g += data[i00 + 1] * w00 + data[i01 + 1] * w01 + data[i10 + 1] * w10 + data[i11 + 1] * w11;
          b += data[i00 + 2] * w00 + data[i01 + 2] * w01 + data[i10 + 2] * w10 + data[i11 + 2] * w11;
        }
      }
      target[o] = r * weight - 1;
      target[o + 1] = g * weight - 1;
      target[o + 2] = b * weight - 1;
    }
  }
}

/** Normalized model-input x → source pixel x. */
export function toSourceX(box: Letterbox, nx: number): number {
  return (nx * box.size - box.padX) * box.scaleX;
}

/** Normalized model-input y → source pixel y. */
export function toSourceY(box: Letterbox, ny: number): number {
  return (ny * box.size - box.padY) * box.scaleY;
}
