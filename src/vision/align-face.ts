/**
 * The one face aligner used everywhere (daemon, dataset preparation, evaluation): rotate about the
 * eyes so the eye line is level, scale so the face fills a fixed share of the crop, and resample
 * into a square RGB crop (64×64 by default). The model therefore sees the same framing whatever
 * the camera, the dataset or the original crop.
 */
import type { RgbImage } from '../capture/frame.js';
import type { DetectedFace } from './face.js';

export interface AlignOptions {
  /** Output side, pixels. Default 64. */
  readonly size?: number;
  /** Crop side in units of the face scale (eye distance). Default 2.5: measured best at 64×64 (models/README.md). */
  readonly sideInEyeDistances?: number;
  /** Crop centre below the eye midpoint, in eye distances (keeps the chin in). Default 0.3. */
  readonly centreBelowEyes?: number;
  /**
   * What fills the part of the crop that lies outside the image: `mirror` reflects the image at its
   * border (a plausible continuation of hair and background), `edge` repeats the border pixels
   * (streaks). Default `mirror`; crops and models recorded without it were made with `edge`.
   */
  readonly padding?: CropPadding;
}

export type CropPadding = 'edge' | 'mirror';

/** Padding of crops and models whose manifest predates the `padding` field. */
export const LEGACY_PADDING: CropPadding = 'edge';

/** A complete crop geometry, as recorded in dataset and model manifests. */
export type CropAlignment = Required<AlignOptions>;

/** Geometry of the canonical crop when a manifest does not say otherwise. */
export const DEFAULT_ALIGNMENT: CropAlignment = {
  size: 64,
  sideInEyeDistances: 2.5,
  centreBelowEyes: 0.3,
  padding: 'mirror',
};

/**
 * The complete geometry a manifest's `alignment` entry describes (absent fields: the defaults, except
 * `padding`, which was `edge` before manifests recorded it). Absent entry: DEFAULT_ALIGNMENT with
 * the legacy padding.
 */
export function recordedAlignment(recorded: Partial<CropAlignment> | null | undefined): CropAlignment {
  return { ...DEFAULT_ALIGNMENT, ...recorded, padding: recorded?.padding ?? LEGACY_PADDING };
}

/**
 * BlazeFace boxes are ≈ 2.4 eye distances wide on frontal faces. When the head turns, the eyes
 * close up while the box does not, so the larger of the two estimates keeps the crop from zooming in.
 */
const BOX_WIDTH_PER_EYE_DISTANCE = 2.4;

/** Where the crop sits in the source image: its centre, side (pixels) and rotation (radians). */
export interface CropGeometry {
  readonly centreX: number;
  readonly centreY: number;
  readonly side: number;
  readonly angle: number;
}

export function cropGeometry(face: DetectedFace, options: AlignOptions = {}): CropGeometry {
  const sideUnits = options.sideInEyeDistances ?? DEFAULT_ALIGNMENT.sideInEyeDistances;
  const below = options.centreBelowEyes ?? DEFAULT_ALIGNMENT.centreBelowEyes;
  const { rightEye, leftEye } = face.keypoints;
  const ex = leftEye.x - rightEye.x;
  const ey = leftEye.y - rightEye.y;
  const eyeDistance = Math.hypot(ex, ey);
  const scale = Math.max(eyeDistance, face.box.width / BOX_WIDTH_PER_EYE_DISTANCE);
  const angle = Math.atan2(ey, ex);
  // "Down" in the face's own frame is the eye vector turned by +90°.
  const downX = -Math.sin(angle);
  const downY = Math.cos(angle);
  return {
    centreX: (rightEye.x + leftEye.x) / 2 + downX * below * scale,
    centreY: (rightEye.y + leftEye.y) / 2 + downY * below * scale,
    side: sideUnits * scale,
    angle,
  };
}

/**
 * Resamples the crop: bilinear, with k×k supersampling when the crop shrinks the face by more than
 * 1.5× (k ≤ 4) so small crops of big faces do not alias. Pixels outside the image follow `padding`.
 * @returns size × size × 3 RGB bytes.
 */
export function alignFace(image: RgbImage, face: DetectedFace, options: AlignOptions = {}): Buffer {
  return resampleCrop(image, cropGeometry(face, options), options.size ?? DEFAULT_ALIGNMENT.size, options.padding);
}

/** A sample coordinate (pixel centres at integers) brought inside [0, max] by `padding`. */
function inside(s: number, max: number, padding: CropPadding): number {
  if (padding === 'mirror' && max > 0) {
    // Reflect about the outermost pixel centres; a crop more than one image away wraps again.
    const period = 2 * max;
    const m = ((s % period) + period) % period;
    return m > max ? period - m : m;
  }
  return Math.min(max, Math.max(0, s));
}

/**
 * Share of the crop's area that lies outside the image (0 = fully inside), sampled on a 16×16 grid:
 * recorded by `dataset prepare`, since tightly cropped sources (UTKFace) are padded on every crop.
 */
export function cropOutsideFraction(image: Pick<RgbImage, 'width' | 'height'>, crop: CropGeometry): number {
  const n = 16;
  const cos = Math.cos(crop.angle);
  const sin = Math.sin(crop.angle);
  let outside = 0;
  for (let v = 0; v < n; v++) {
    for (let u = 0; u < n; u++) {
      const lx = ((u + 0.5) / n - 0.5) * crop.side;
      const ly = ((v + 0.5) / n - 0.5) * crop.side;
      const x = crop.centreX + lx * cos - ly * sin;
      const y = crop.centreY + lx * sin + ly * cos;
      if (x < 0 || y < 0 || x >= image.width || y >= image.height) outside++;
    }
  }
  return outside / (n * n);
}

/**
 * Where `image` lies in the frame when it holds only part of it (src/vision/face-regions.ts): its top-left
 * pixel is the frame's (`left`, `top`), and the frame is `frameWidth` × `frameHeight`.
 */
export interface ImagePlacement {
  readonly left: number;
  readonly top: number;
  readonly frameWidth: number;
  readonly frameHeight: number;
}

export function resampleCrop(
  image: RgbImage,
  crop: CropGeometry,
  size: number,
  padding: CropPadding = DEFAULT_ALIGNMENT.padding,
  placement?: ImagePlacement,
): Buffer {
  const out = Buffer.alloc(size * size * 3);
  const step = crop.side / size; // source pixels per output pixel
  const taps = Math.min(4, Math.max(1, Math.round(step / 1.5) + (step > 1.5 ? 1 : 0)));
  const cos = Math.cos(crop.angle);
  const sin = Math.sin(crop.angle);
  const { data, width } = image;
  // Sample positions are computed and padded in frame pixels, then read from the image at its offset:
  // the same arithmetic whether the image is the whole frame or a region of it, so the same crop.
  const left = placement?.left ?? 0;
  const top = placement?.top ?? 0;
  const maxX = (placement?.frameWidth ?? width) - 1;
  const maxY = (placement?.frameHeight ?? image.height) - 1;
  const acc = [0, 0, 0];
  for (let v = 0; v < size; v++) {
    for (let u = 0; u < size; u++) {
      acc[0] = acc[1] = acc[2] = 0;
      for (let ty = 0; ty < taps; ty++) {
        for (let tx = 0; tx < taps; tx++) {
          // Output sample position relative to the crop centre, in source pixels (unrotated frame).
          const lx = (u + (tx + 0.5) / taps - size / 2) * step;
          const ly = (v + (ty + 0.5) / taps - size / 2) * step;
          // Rotate into the image and sample with pixel centres at integer + 0.5.
          const sx = inside(crop.centreX + lx * cos - ly * sin - 0.5, maxX, padding);
          const sy = inside(crop.centreY + lx * sin + ly * cos - 0.5, maxY, padding);
          const fx = sx - Math.floor(sx);
          const fy = sy - Math.floor(sy);
          const x0 = Math.floor(sx) - left;
          const y0 = Math.floor(sy) - top;
          const x1 = Math.min(maxX, Math.floor(sx) + 1) - left;
          const y1 = Math.min(maxY, Math.floor(sy) + 1) - top;
          const i00 = (y0 * width + x0) * 3;
          const i01 = (y0 * width + x1) * 3;
          const i10 = (y1 * width + x0) * 3;
          const i11 = (y1 * width + x1) * 3;
          for (let c = 0; c < 3; c++) {
            const top = data[i00 + c] + (data[i01 + c] - data[i00 + c]) * fx;
            const bottom = data[i10 + c] + (data[i11 + c] - data[i10 + c]) * fx;
            acc[c] += top + (bottom - top) * fy;
          }
        }
      }
      const o = (v * size + u) * 3;
      const n = taps * taps;
      out[o] = Math.round(acc[0] / n);
      out[o + 1] = Math.round(acc[1] / n);
      out[o + 2] = Math.round(acc[2] / n);
    }
  }
  return out;
}
