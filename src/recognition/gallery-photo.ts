/**
 * One photo through the board's own path, for the gallery: read → decode for the detector → BlazeFace →
 * the photo's primary face (the rule `eval` and `faces verify` use, src/vision/primary-face.ts) → the
 * embedder's aligner → the embedding. Enrolment asks for the `strict` policy (a photo where two faces
 * of similar size compete is skipped: enrolling the wrong one would let a stranger in) and refuses faces
 * too small or too turned; identification takes the central face, as `eval` does.
 */
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { readImageFile } from '../capture/read-image-file.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { RgbImage } from '../capture/frame.js';
import type { FaceDetector } from '../inference/face-detector.js';
import type { FaceEmbedder } from '../inference/face-embedder.js';
import type { Box, DetectedFace } from '../vision/face.js';
import {
  decodeForDetection,
  detectFaces,
  fullResolutionImage,
  rgbDetectionImage,
  type DetectionImage,
} from '../vision/decode-for-detection.js';
import { primaryFace, type PrimaryFacePolicy } from '../vision/primary-face.js';
import { enrolmentRefusal, photoQuality, type PhotoQuality } from './gallery-photo-quality.js';

/** Extensions a folder argument is searched for (lower case). */
export const GALLERY_PHOTO_EXTENSIONS: ReadonlySet<string> = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.bmp',
  '.tif',
  '.tiff',
]);

export interface GalleryPhotoTools {
  readonly detector: FaceDetector;
  readonly embedder: FaceEmbedder;
}

export type PhotoFace =
  | {
      readonly file: string;
      readonly usable: true;
      readonly box: Box;
      readonly quality: PhotoQuality;
      readonly embedding: Float32Array;
    }
  | {
      readonly file: string;
      readonly usable: false;
      /** Why no embedding: `no face`, `several faces`, a quality refusal, or why the file could not be read. */
      readonly reason: string;
      /** True when the file itself could not be read or decoded (not a judgement on the face). */
      readonly unreadable: boolean;
      readonly box: Box | null;
      readonly quality: PhotoQuality | null;
    };

export interface PhotoFaceOptions {
  /** `strict` for enrolment (skip competing faces, refuse poor faces), `central` for identification. */
  readonly purpose: 'enrol' | 'identify';
}

/** The primary face of the photo at `file` and its embedding, or why there is none (never throws for a bad photo). */
export async function photoFace(file: string, tools: GalleryPhotoTools, options: PhotoFaceOptions): Promise<PhotoFace> {
  return unreadableAsSkipped(file, async () => photoFaceOfImage(await readImageFile(file), file, tools, options));
}

/**
 * {@link photoFace} of a photo already in memory (an enrolment request's photo, never written to disk),
 * `origin` naming it in messages; the decoder refuses more than `maxPixels` (default 50 MP) before decoding.
 */
export function photoFaceOfBytes(
  data: Buffer,
  origin: string,
  tools: GalleryPhotoTools,
  options: PhotoFaceOptions & { readonly maxPixels?: number },
): Promise<PhotoFace> {
  return unreadableAsSkipped(origin, () => photoFaceOfImage(data, origin, tools, options));
}

/** {@link photoFace} of decoded pixels (a region of a camera frame, for the live view's enrolment). */
export function photoFaceOfPixels(
  image: RgbImage,
  origin: string,
  tools: GalleryPhotoTools,
  options: PhotoFaceOptions,
): Promise<PhotoFace> {
  return unreadableAsSkipped(origin, () => primaryPhotoFace(rgbDetectionImage(image), origin, tools, options));
}

async function photoFaceOfImage(
  data: Buffer,
  file: string,
  tools: GalleryPhotoTools,
  options: PhotoFaceOptions & { readonly maxPixels?: number },
): Promise<PhotoFace> {
  const decoded = await decodeForDetection(data, file, {
    inputSize: tools.detector.inputSize,
    maxPixels: options.maxPixels,
  });
  return primaryPhotoFace(decoded, file, tools, options);
}

async function primaryPhotoFace(
  decoded: DetectionImage,
  file: string,
  tools: GalleryPhotoTools,
  options: PhotoFaceOptions,
): Promise<PhotoFace> {
  const policy: PrimaryFacePolicy = options.purpose === 'enrol' ? 'strict' : 'central';
  const pick = primaryFace(await detectFaces(tools.detector, decoded), decoded.sourceWidth, decoded.sourceHeight, {
    policy,
  });
  if (!pick.face) return { file, usable: false, reason: pick.reason, unreadable: false, box: null, quality: null };
  const face: DetectedFace = pick.face;
  const crop = tools.embedder.crop(await fullResolutionImage(decoded), face);
  const quality = photoQuality(face, crop, tools.embedder.inputSize);
  const box = roundBox(face.box);
  const refusal = options.purpose === 'enrol' ? enrolmentRefusal(quality) : null;
  if (refusal) return { file, usable: false, reason: refusal, unreadable: false, box, quality };
  return { file, usable: true, box, quality, embedding: await tools.embedder.embedCrop(crop) };
}

/** A photo that cannot be read or decoded is a skipped photo, not an error; any other error is thrown. */
async function unreadableAsSkipped(file: string, run: () => Promise<PhotoFace>): Promise<PhotoFace> {
  try {
    return await run();
  } catch (err) {
    if (!isFaceedgeError(err) || !['IMAGE_UNREADABLE', 'IMAGE_TOO_LARGE', 'IMAGE_TOO_SMALL'].includes(err.code))
      throw err;
    return { file, usable: false, reason: err.message, unreadable: true, box: null, quality: null };
  }
}

const roundBox = (b: Box): Box => ({
  x: Math.round(b.x),
  y: Math.round(b.y),
  width: Math.round(b.width),
  height: Math.round(b.height),
});

/**
 * The photo files `args` name, in order: a file as given (its `file` is exactly the argument), a folder
 * as the photos under it (recursively, by name), each as `join(folder, relative path)`. Throws
 * IMAGE_UNREADABLE for an argument that does not exist.
 */
export async function* photoFiles(args: readonly string[]): AsyncGenerator<string> {
  for (const arg of args) {
    let isDir: boolean;
    try {
      isDir = (await stat(arg)).isDirectory();
    } catch (cause) {
      throw new FaceedgeError('IMAGE_UNREADABLE', `cannot read ${arg}: ${(cause as Error).message}`, { cause });
    }
    if (isDir) yield* folderPhotos(arg);
    else yield arg;
  }
}

async function* folderPhotos(dir: string): AsyncGenerator<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name, 'en', { numeric: true }),
  );
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* folderPhotos(path);
    else if (entry.isFile() && GALLERY_PHOTO_EXTENSIONS.has(extname(entry.name).toLowerCase())) yield path;
  }
}
