/**
 * `faceedge dataset prepare`: runs the daemon's own detector and aligner over a labeled folder and
 * writes 64×64 PNG crops with the same layout, plus a manifest that accounts for every image.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, parse, resolve } from 'node:path';
import sharp from 'sharp';
import { readImageFile } from '../capture/read-image-file.js';
import { isFaceedgeError } from '../errors.js';
import {
  alignFace,
  cropGeometry,
  cropOutsideFraction,
  DEFAULT_ALIGNMENT,
  type CropAlignment,
} from '../vision/align-face.js';
import {
  decodeForDetection,
  detectFaces,
  fullResolutionImage,
  type DetectionImage,
} from '../vision/decode-for-detection.js';
import { primaryFace, type PrimaryFacePolicy } from '../vision/primary-face.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { listLabeledImages, type LabeledImage } from './labeled-folder.js';
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { Progress } from './progress.js';

export interface PrepareOptions {
  readonly source: string;
  readonly output: string;
  readonly detector: FaceDetector;
  /** Images processed at once (decode overlaps inference). Default 2. */
  readonly concurrency?: number;
  /** Crop geometry. Default DEFAULT_ALIGNMENT; recorded in the manifest and carried into the model's. */
  readonly alignment?: CropAlignment;
  /** Show progress on stderr. Default true. */
  readonly progress?: boolean;
  /**
   * Images with a second face nearly as large as the first: `strict` (default) skips them, since a
   * training crop of the wrong person teaches the wrong label; `central` takes the central one as eval does.
   */
  readonly faces?: PrimaryFacePolicy;
}

export interface SkippedImage {
  readonly path: string;
  readonly reason: 'no face' | 'several faces' | 'unreadable';
  readonly detail?: string;
}

export interface CropManifest {
  readonly kind: 'faceedge-crops';
  readonly created: string;
  readonly source: string;
  readonly detector: { readonly model: string; readonly score_threshold: number; readonly iou_threshold: number };
  readonly alignment: CropAlignment;
  readonly faces: PrimaryFacePolicy;
  /**
   * counts[split][label] = { images, written, skipped, padded } ('' split for folders without splits);
   * `padded` crops reach outside their photo (filled as `alignment.padding` says): tightly cropped
   * sources such as UTKFace have it on nearly every crop, full photos (CelebA) almost never.
   */
  readonly counts: Record<string, Record<string, { images: number; written: number; skipped: number; padded: number }>>;
  /** Mean share of a written crop's area that lay outside its photo, per split. */
  readonly mean_outside_fraction: Record<string, number>;
  readonly written: number;
  readonly skipped: readonly SkippedImage[];
  /** sha256 over the sorted list of written crop paths and their bytes' sha256. */
  readonly crops_sha256: string;
}

type Outcome = { written: string; sha: string; outside: number } | SkippedImage;

async function prepareOne(image: LabeledImage, options: PrepareOptions): Promise<Outcome> {
  let decoded: DetectionImage;
  try {
    decoded = await decodeForDetection(await readImageFile(image.path), image.relative, {
      inputSize: options.detector.inputSize,
    });
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return { path: image.relative, reason: 'unreadable', detail: err.message };
  }
  const pick = primaryFace(await detectFaces(options.detector, decoded), decoded.sourceWidth, decoded.sourceHeight, {
    policy: options.faces ?? 'strict',
  });
  if (!pick.face) return { path: image.relative, reason: pick.reason };
  const alignment = options.alignment ?? DEFAULT_ALIGNMENT;
  const full = await fullResolutionImage(decoded);
  const crop = alignFace(full, pick.face, alignment);
  const outside = cropOutsideFraction(full, cropGeometry(pick.face, alignment));
  const relative = join(image.split, image.label, `${parse(image.path).name}.png`);
  const target = join(options.output, relative);
  await mkdir(dirname(target), { recursive: true });
  const png = await sharp(crop, { raw: { width: alignment.size, height: alignment.size, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
  await writeFile(target, png);
  return { written: relative, sha: createHash('sha256').update(png).digest('hex'), outside };
}

export async function prepareDataset(options: PrepareOptions): Promise<CropManifest> {
  const images = await listLabeledImages(options.source);
  await mkdir(options.output, { recursive: true });
  const progress = options.progress === false ? null : new Progress(images.length, 'prepare');
  const outcomes = await mapWithLimit(images, options.concurrency ?? 2, async (image) => {
    const outcome = await prepareOne(image, options);
    progress?.tick();
    return outcome;
  });

  const counts: CropManifest['counts'] = {};
  const outsideSums: Record<string, { sum: number; n: number }> = {};
  const skipped: SkippedImage[] = [];
  const digest = createHash('sha256');
  images.forEach((image, i) => {
    const bucket = ((counts[image.split] ??= {})[image.label] ??= { images: 0, written: 0, skipped: 0, padded: 0 });
    bucket.images++;
    const outcome = outcomes[i];
    if ('written' in outcome) {
      bucket.written++;
      if (outcome.outside > 0) bucket.padded++;
      const acc = (outsideSums[image.split] ??= { sum: 0, n: 0 });
      acc.sum += outcome.outside;
      acc.n++;
      digest.update(`${outcome.written} ${outcome.sha}\n`);
    } else {
      bucket.skipped++;
      skipped.push(outcome);
    }
  });
  const manifest: CropManifest = {
    kind: 'faceedge-crops',
    created: new Date().toISOString(),
    source: resolve(options.source),
    detector: {
      model: options.detector.model,
      score_threshold: options.detector.scoreThreshold,
      iou_threshold: options.detector.iouThreshold,
    },
    alignment: options.alignment ?? DEFAULT_ALIGNMENT,
    faces: options.faces ?? 'strict',
    counts,
    mean_outside_fraction: Object.fromEntries(
      Object.entries(outsideSums).map(([split, a]) => [split, Math.round((a.sum / a.n) * 1e4) / 1e4]),
    ),
    written: images.length - skipped.length,
    skipped,
    crops_sha256: digest.digest('hex'),
  };
  await writeFile(join(options.output, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
