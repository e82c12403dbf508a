/**
 * The part of a frame the aligner reads for a set of face crops. A tracked face covers a few percent of
 * a 1280×720 frame; decoding only the rectangle its crop reads (libjpeg still entropy-decodes the rows
 * above it, but skips the inverse DCT, colour conversion and copy of everything else) costs about a third
 * of a full decode. The rectangle is chosen so that aligning inside it gives exactly the crop that
 * aligning in the full frame gives, padding included (test/unit/face-regions.test.ts).
 */
import type { PixelRect, RgbImage } from '../capture/frame.js';
import {
  DEFAULT_ALIGNMENT,
  resampleCrop,
  type AlignOptions,
  type CropGeometry,
  type ImagePlacement,
} from './align-face.js';

/** Decoded pixels of part of a frame: `image` holds the frame's pixels from (`left`, `top`) on. */
export interface FrameRegion extends ImagePlacement {
  readonly image: RgbImage;
}

/** A whole decoded frame, as a region. */
export function wholeFrame(image: RgbImage): FrameRegion {
  return { image, left: 0, top: 0, frameWidth: image.width, frameHeight: image.height };
}

/** Pixels beyond a crop's corners that its resampling may read (the bilinear neighbour, rounding). */
const SAMPLING_MARGIN = 2;

/** The span [lo, hi] of sample positions on one axis, widened for reflection, clipped to [0, size). */
function axisSpan(lo: number, hi: number, size: number): [number, number] {
  const max = size - 1;
  let from = Math.floor(lo) - SAMPLING_MARGIN;
  let to = Math.ceil(hi) + SAMPLING_MARGIN;
  // Samples beyond an edge read the image mirrored about it (or its edge pixel): the reflected span
  // must be inside the region too, and an edge the crop crosses must be the region's edge.
  if (from < 0) to = Math.max(to, -from + SAMPLING_MARGIN);
  if (to > max) from = Math.min(from, 2 * max - to - SAMPLING_MARGIN);
  from = Math.max(0, from);
  to = Math.min(max, to);
  return [from, to];
}

/** The smallest rectangle of a `frameWidth` × `frameHeight` frame that every crop in `crops` reads. */
export function regionForCrops(crops: readonly CropGeometry[], frameWidth: number, frameHeight: number): PixelRect {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const crop of crops) {
    // The rotated square's bounding box.
    const half = (crop.side / 2) * (Math.abs(Math.cos(crop.angle)) + Math.abs(Math.sin(crop.angle)));
    const [left, right] = axisSpan(crop.centreX - half, crop.centreX + half, frameWidth);
    const [top, bottom] = axisSpan(crop.centreY - half, crop.centreY + half, frameHeight);
    x0 = Math.min(x0, left);
    y0 = Math.min(y0, top);
    x1 = Math.max(x1, right);
    y1 = Math.max(y1, bottom);
  }
  if (!Number.isFinite(x0)) return { left: 0, top: 0, width: frameWidth, height: frameHeight };
  return { left: x0, top: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** The aligned crop of `crop` (source-frame geometry) taken from a region of the frame. */
export function alignInRegion(region: FrameRegion, crop: CropGeometry, options: AlignOptions = {}): Buffer {
  return resampleCrop(region.image, crop, options.size ?? DEFAULT_ALIGNMENT.size, options.padding, region);
}
