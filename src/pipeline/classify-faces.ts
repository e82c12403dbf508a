/**
 * The align and classify stages of one frame for every model of a face (issue 24 §3): each face is
 * cropped once per crop geometry (models recorded with the same alignment share the crop), from one
 * full-resolution decode of just the rectangle the crops read, and each model classifies only the faces
 * it is due for (its own cadence, from the tracker).
 */
import { cropGeometry, DEFAULT_ALIGNMENT, type AlignOptions, type CropGeometry } from '../vision/align-face.js';
import { alignmentRegion, type DetectionImage } from '../vision/decode-for-detection.js';
import { alignInRegion } from '../vision/face-regions.js';
import type { DetectedFace } from '../vision/face.js';

/** The parts of a classifier this stage needs (FaceClassifier implements it; see pipeline.ts `Classifier`). */
export interface CropClassifier {
  readonly alignment: AlignOptions;
  classify(crop: Uint8Array): Promise<{ logit: number; scores?: readonly number[] }>;
}

/** What the models said of one face: per model, its result, or null where it did not classify the face. */
export type FaceResults = ({ logit: number; scores?: readonly number[] } | null)[];

export interface ClassifiedFaces {
  /** Per face, per model (the order of `classifiers`). */
  readonly results: FaceResults[];
  /** Time spent aligning (the region decode and every crop), ms. */
  readonly alignMs: number;
  /** Time each model spent classifying, ms, in the order of `classifiers`. */
  readonly classifyMs: number[];
  /** Faces each model classified, in the order of `classifiers`. */
  readonly classifiedBy: number[];
}

/** The key of a crop geometry: models whose keys match read the same pixels. */
function alignmentKey(alignment: AlignOptions): string {
  const a = { ...DEFAULT_ALIGNMENT, ...alignment };
  return `${a.size}|${a.sideInEyeDistances}|${a.centreBelowEyes}|${a.padding}`;
}

/**
 * Aligns and classifies `faces` for every model: `due[face][model]` says which model classifies which
 * face. Crops are made once per face and geometry, in face order; models run one after another (the
 * inference worker serves one request at a time anyway).
 */
export async function classifyFaces(
  decoded: DetectionImage,
  faces: readonly DetectedFace[],
  classifiers: readonly CropClassifier[],
  due: readonly (readonly boolean[])[],
): Promise<ClassifiedFaces> {
  const started = performance.now();
  const keys = classifiers.map((c) => alignmentKey(c.alignment));
  const groups = [...new Set(keys)].map((key) => ({ key, alignment: classifiers[keys.indexOf(key)].alignment }));
  // geometries[face][group]: null where no model of that geometry wants the face.
  const geometries = faces.map((face, i) =>
    groups.map((g) =>
      classifiers.some((_, m) => keys[m] === g.key && due[i][m]) ? cropGeometry(face, g.alignment) : null,
    ),
  );
  const wanted = geometries.flat().filter((g): g is CropGeometry => g !== null);
  const region = wanted.length > 0 ? await alignmentRegion(decoded, wanted) : null;
  const crops = geometries.map((perGroup) =>
    perGroup.map((g, k) => (g && region ? alignInRegion(region, g, groups[k].alignment) : null)),
  );
  const alignMs = performance.now() - started;
  const classifyMs = classifiers.map(() => 0);
  const classifiedBy = classifiers.map(() => 0);
  const results: FaceResults[] = [];
  for (let i = 0; i < faces.length; i++) {
    const perModel: FaceResults = [];
    for (let m = 0; m < classifiers.length; m++) {
      const crop = crops[i][groups.findIndex((g) => g.key === keys[m])];
      if (!crop || !due[i][m]) {
        perModel.push(null);
        continue;
      }
      const t = performance.now();
      perModel.push(await classifiers[m].classify(crop));
      classifyMs[m] += performance.now() - t;
      classifiedBy[m]++;
    }
    results.push(perModel);
  }
  return { results, alignMs, classifyMs, classifiedBy };
}
