/**
 * Decodes a frame for the face detector, not for the screen. BlazeFace looks at 128×128 (short range) or
 * 192×192 (full range), so a JPEG much larger than that is decoded straight to 1.5× the detector's letterbox
 * size with libjpeg's DCT scaling where sharp's shrink-on-load allows it: a 1280×720 MJPEG frame costs a
 * 1/2-scale (full range) or 1/4-scale (short range) decode plus a resample instead of a full decode; sharp
 * decodes a 480×270 frame in full and resamples it (its shrink-on-load keeps a margin for libjpeg's
 * rounding). Faces found there are mapped back to source pixels, and the aligner gets its own
 * full-resolution decode of the faces it crops ({@link alignmentRegion}, {@link fullResolutionImage}).
 *
 * Images that libjpeg cannot shrink by at least 2 (small stills such as the evaluation set, PNGs, EXIF-
 * rotated photos) are decoded in full, exactly as before, and serve both the detector and the aligner.
 * `faceedge eval`, `dataset prepare`, `classify` and the daemon all come through here.
 */
import type { RgbImage } from '../capture/frame.js';
import { DEFAULT_MAX_PIXELS, probeImage, type ImageHeader } from '../capture/probe-image.js';
import type { CropGeometry } from './align-face.js';
import { decodeImage } from '../capture/decode-image.js';
import { regionForCrops, wholeFrame, type FrameRegion } from './face-regions.js';
import type { DetectedFace, Point } from './face.js';
import { computeLetterbox } from './letterbox.js';

/**
 * Smallest source-to-letterbox ratio for which a reduced decode is used. sharp lets libjpeg shrink by
 * 2 only when the whole reduction is at least 3 (below, it decodes in full and resamples, which costs
 * more than the detector's own letterbox), so 3 is where a reduced decode starts to pay.
 */
export const MIN_REDUCED_DECODE_RATIO = 3;

/**
 * The reduced decode is this many times the letterbox, so the detector's own resampler (letterbox.ts)
 * makes the last step, as it does for a full frame. Measured on the scene clips sent as 480×270 and
 * 1280×720 MJPEG: decoding straight to the letterbox size lost 2 of 15 marginal tracks that full decoding
 * found; at 1.5× every track is found, with the same classes. (That takes a finer libjpeg scale for the
 * full-range detector at 1280×720, 1/2 instead of 1/4; 1.25× at 1/4 and 1/2 lost every track of a 480×270
 * clip. Measured CPU per camera and frames/s are with 1.5×: README "Measured here".)
 */
export const REDUCED_DECODE_OVERSIZE = 1.5;

/** A frame decoded for detection. */
export interface DetectionImage {
  /** Pixels the detector runs on: the full frame, or the frame reduced to the detector's letterbox. */
  readonly image: RgbImage;
  /** Size of the frame itself (after EXIF rotation), pixels: what event boxes are measured in. */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  /** True when `image` is the full-resolution frame (then it also serves the aligner). */
  readonly fullResolution: boolean;
  /** The encoded frame, kept for a full-resolution decode when faces are found in a reduced one. */
  readonly encoded: {
    readonly data: Buffer;
    readonly origin: string;
    readonly maxPixels: number;
    readonly header: ImageHeader;
  } | null;
}

export interface DetectionDecodeOptions {
  /** Side of the detector's square input, pixels (`FaceDetector.inputSize`). Absent: decode in full. */
  readonly inputSize?: number;
  /** Decode in full even where a reduced decode is possible (the frame is expected to have faces). Default false. */
  readonly full?: boolean;
  /** Largest accepted width × height. Default 50 MP. */
  readonly maxPixels?: number;
}

/** The size to decode a frame at for the detector, or null when it must be decoded in full. */
export function detectionDecodeSize(header: ImageHeader, inputSize: number): { width: number; height: number } | null {
  if (header.format !== 'jpeg' || (header.orientation ?? 1) !== 1) return null;
  const box = computeLetterbox(header.width, header.height, inputSize);
  if (header.width / box.width < MIN_REDUCED_DECODE_RATIO || header.height / box.height < MIN_REDUCED_DECODE_RATIO)
    return null;
  return {
    width: Math.round(box.width * REDUCED_DECODE_OVERSIZE),
    height: Math.round(box.height * REDUCED_DECODE_OVERSIZE),
  };
}

/** Decodes `data` at the scale the detector needs (see the module comment). */
export async function decodeForDetection(
  data: Buffer,
  origin: string,
  options: DetectionDecodeOptions,
): Promise<DetectionImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const header = await probeImage(data, { maxPixels, origin });
  const size = options.full || options.inputSize === undefined ? null : detectionDecodeSize(header, options.inputSize);
  if (!size) {
    const image = await decodeImage(data, origin, { maxPixels, header });
    return { image, sourceWidth: image.width, sourceHeight: image.height, fullResolution: true, encoded: null };
  }
  const image = await decodeImage(data, origin, { maxPixels, header, size });
  return {
    image,
    sourceWidth: header.width,
    sourceHeight: header.height,
    fullResolution: false,
    encoded: { data, origin, maxPixels, header },
  };
}

/** An already decoded RGB frame, as a DetectionImage (file sources that deliver pixels). */
export function rgbDetectionImage(image: RgbImage): DetectionImage {
  return { image, sourceWidth: image.width, sourceHeight: image.height, fullResolution: true, encoded: null };
}

/** Faces detected in `decoded.image`, in source-frame pixels. */
export function toSourceFaces(faces: readonly DetectedFace[], decoded: DetectionImage): DetectedFace[] {
  if (decoded.fullResolution) return [...faces];
  const sx = decoded.sourceWidth / decoded.image.width;
  const sy = decoded.sourceHeight / decoded.image.height;
  const p = (q: Point): Point => ({ x: q.x * sx, y: q.y * sy });
  return faces.map((f) => ({
    box: { x: f.box.x * sx, y: f.box.y * sy, width: f.box.width * sx, height: f.box.height * sy },
    keypoints: {
      rightEye: p(f.keypoints.rightEye),
      leftEye: p(f.keypoints.leftEye),
      noseTip: p(f.keypoints.noseTip),
      mouth: p(f.keypoints.mouth),
      rightEar: p(f.keypoints.rightEar),
      leftEar: p(f.keypoints.leftEar),
    },
    score: f.score,
  }));
}

/** What {@link detectFaces} needs of a detector; `FaceDetector` is one. */
export interface ImageDetector {
  detect(image: RgbImage): Promise<DetectedFace[]>;
}

/** Faces of a decoded frame, in source-frame pixels. */
export async function detectFaces(detector: ImageDetector, decoded: DetectionImage): Promise<DetectedFace[]> {
  return toSourceFaces(await detector.detect(decoded.image), decoded);
}

/**
 * Above this share of the frame, the faces' region is decoded as the whole frame: the saving is small
 * and a whole decode serves every later face too.
 */
export const REGION_DECODE_MAX_SHARE = 0.5;

/**
 * Full-resolution pixels for aligning `crops` (source-frame geometry): `decoded.image` itself when it is
 * the full frame, else a decode of only the rectangle the crops read (src/vision/face-regions.ts).
 */
export async function alignmentRegion(decoded: DetectionImage, crops: readonly CropGeometry[]): Promise<FrameRegion> {
  if (decoded.fullResolution || !decoded.encoded) return wholeFrame(decoded.image);
  const { data, origin, maxPixels, header } = decoded.encoded;
  const { sourceWidth: frameWidth, sourceHeight: frameHeight } = decoded;
  const rect = regionForCrops(crops, frameWidth, frameHeight);
  if (rect.width * rect.height > REGION_DECODE_MAX_SHARE * frameWidth * frameHeight)
    return wholeFrame(await decodeImage(data, origin, { maxPixels, header }));
  const image = await decodeImage(data, origin, { maxPixels, header, region: rect });
  return { image, left: rect.left, top: rect.top, frameWidth, frameHeight };
}

/** The full-resolution frame for the aligner: `decoded.image` itself, or a second, full decode. */
export async function fullResolutionImage(decoded: DetectionImage): Promise<RgbImage> {
  if (decoded.fullResolution || !decoded.encoded) return decoded.image;
  const { data, origin, maxPixels, header } = decoded.encoded;
  return decodeImage(data, origin, { maxPixels, header });
}
