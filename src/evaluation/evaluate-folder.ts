/**
 * Evaluates a classifier the way the board uses it: image → decode → detect → the face the photo is
 * about (`primaryFace`) → align → classify, over a folder with one subfolder per class. Images are processed one
 * at a time so the per-image and per-face timings are those of one uncontended pipeline.
 */
import { basename, resolve } from 'node:path';
import { readImageFile } from '../capture/read-image-file.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { listLabeledImages, type LabeledImage } from '../dataset/labeled-folder.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import { alignFace } from '../vision/align-face.js';
import {
  decodeForDetection,
  detectFaces,
  fullResolutionImage,
  type DetectionImage,
} from '../vision/decode-for-detection.js';
import { primaryFace } from '../vision/primary-face.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { argmax, UNSURE_LABEL } from '../classification/classification.js';
import { groupReport, readImageGroups, type GroupReport } from './group-metrics.js';
import { pairAbout, pairedOutcome, type EvalPair, type PairAbout } from './paired-eval.js';
import type { ImageOutcome, ImageStatus } from './image-outcome.js';
import {
  accuracy,
  classMetrics,
  confusionMatrix,
  median,
  rocAuc,
  type ClassMetrics,
  type Confusion,
} from './metrics.js';
import {
  expectedCalibrationError,
  macroRecall,
  offByMoreThanOne,
  unsureReport,
  type UnsureReport,
} from './multiclass-metrics.js';

/** The per-image record, for callers that read it with the run's results. */
export type { ImageOutcome, ImageStatus } from './image-outcome.js';

/** What evaluation needs of a detector; `FaceDetector` is one. */
export type EvalDetector = Pick<FaceDetector, 'detect' | 'model'> & { readonly inputSize?: number };
/** What evaluation needs of a classifier; `FaceClassifier` is one. */
export type EvalClassifier = Pick<
  FaceClassifier,
  'id' | 'labels' | 'inputSize' | 'alignment' | 'modelPath' | 'manifest' | 'delegate' | 'classifySync'
>;

export interface EvaluateOptions {
  /** Folder with one subfolder per class (`female/`, `male/`), named like the model's labels. */
  readonly root: string;
  readonly detector: EvalDetector;
  readonly classifier: EvalClassifier;
  /** At most this many images, spread evenly over each class in proportion to its size. Default all. */
  readonly limit?: number;
  /**
   * The model ships as a pair with this head on the face embedding (`paired-eval.ts`): the evaluation scores the
   * pair, and `alone` the image model by itself on the same faces.
   */
  readonly pair?: EvalPair;
  /** Called with (0, total) once the images are listed, then after each image with the number done. */
  readonly onImage?: (done: number, total: number) => void;
}

/** The `faceedge eval --json` object. Ratios are null when their denominator is 0. */
export interface EvalSummary {
  /** Images evaluated. */
  readonly n: number;
  /** Images where a face was found and classified. */
  readonly detected: number;
  /** Of those, images with several nearly equal faces, where the most central one was classified. */
  readonly several_faces_classified: number;
  /** Correct / detected. */
  readonly accuracy: number | null;
  /** Correct / n: images without a usable face count as wrong. */
  readonly accuracy_all: number | null;
  readonly recall: Record<string, number | null>;
  readonly precision: Record<string, number | null>;
  /** confusion[true][predicted] over detected images. */
  readonly confusion: Confusion;
  /** ROC AUC of the positive label's probability over detected images (two labels; null for more). */
  readonly roc_auc: number | null;
  /** Three or more labels: the mean of the per-class recalls (classes with images). */
  readonly macro_recall?: number | null;
  /** Three or more labels: expected calibration error of the decided label's probability (15 bins). */
  readonly ece?: number | null;
  /** Ordered labels (`ordered` in the manifest): share of faces predicted more than one step off. */
  readonly off_by_more_than_one?: number | null;
  /** Three or more labels: what the model's unsure floor leaves unanswered (`unknown` in events). */
  readonly unsure?: UnsureReport;
  /** Median classifier invoke time per face, ms. */
  readonly ms_per_face: number | null;
  /** Median decode → classify time per decodable image, ms. */
  readonly ms_per_image: number | null;
  /** Images without a usable face, by reason. */
  readonly undetected: Record<Exclude<ImageStatus, 'classified'>, number>;
  /** Accuracy per age band and ethnicity group, when the folder has a labels.csv with age/race. */
  readonly groups?: GroupReport;
  /** `--head`: the head and embedder paired with the model; the figures are the pair's. */
  readonly pair?: PairAbout;
  readonly detector: string;
  readonly model: {
    readonly id: string;
    readonly path: string;
    readonly sha256: string | null;
    readonly delegate: string;
  };
}

export interface Evaluation {
  readonly summary: EvalSummary;
  readonly perClass: Record<string, ClassMetrics>;
  /** One entry per evaluated image, in folder order. */
  readonly images: readonly ImageOutcome[];
  readonly labels: readonly string[];
  /** The positive label, whose probability the ROC curve thresholds (two labels). */
  readonly positiveLabel: string;
  /** How the labels are decided and read, from the manifest (three or more labels). */
  readonly decision: EvalDecision;
  /** With a pair: the image model alone on the same faces of the same run, scored by the same code. */
  readonly alone?: Evaluation;
}

/** From the manifest: whether the labels are a scale, and the unsure floor (three or more labels). */
export interface EvalDecision {
  readonly ordered: boolean;
  readonly unsureFloor: number;
}

/** The decision settings of `classifier`'s manifest. */
export function evalDecision(classifier: Pick<EvalClassifier, 'manifest'>): EvalDecision {
  return { ordered: classifier.manifest.ordered ?? false, unsureFloor: classifier.manifest.unsure_floor ?? 0 };
}

/** `count` items at evenly spaced positions of `items` (deterministic, not just the first names). */
function spread<T>(items: readonly T[], count: number): T[] {
  if (count >= items.length) return [...items];
  return Array.from({ length: count }, (_, i) => items[Math.floor((i * items.length) / count)]);
}

async function selectImages(root: string, labels: readonly string[], limit?: number): Promise<LabeledImage[]> {
  const images = await listLabeledImages(root);
  if (images.some((i) => i.split !== '')) {
    throw new FaceedgeError('DATASET_INVALID', `${root} holds train/val/test splits`, {
      hint: `evaluate one split, e.g. ${resolve(root, 'test')}`,
    });
  }
  const foreign = [...new Set(images.map((i) => i.label))].filter((l) => !labels.includes(l));
  if (foreign.length > 0) {
    throw new FaceedgeError(
      'DATASET_INVALID',
      `${root}: class folder(s) ${foreign.join(', ')} are not labels of the model (${labels.join(', ')})`,
    );
  }
  if (limit === undefined || limit >= images.length) return images;
  const byClass = labels.map((l) => images.filter((i) => i.label === l));
  // Largest-remainder shares: proportional to class size and summing exactly to `limit`.
  const exact = byClass.map((g) => (limit * g.length) / images.length);
  const counts = exact.map(Math.floor);
  const byRemainder = exact.map((e, i) => i).sort((a, b) => exact[b] - counts[b] - (exact[a] - counts[a]));
  for (let k = 0; k < limit - counts.reduce((a, b) => a + b, 0); k++) counts[byRemainder[k]]++;
  return byClass.flatMap((group, i) => spread(group, counts[i]));
}

/** One image's outcome for the image model, and for the pair where there is one. */
interface Outcomes {
  readonly alone: ImageOutcome;
  readonly pair: ImageOutcome;
}

const same = (outcome: ImageOutcome): Outcomes => ({ alone: outcome, pair: outcome });

async function evaluateOne(image: LabeledImage, options: EvaluateOptions): Promise<Outcomes> {
  const base = { file: image.relative, truth: image.label };
  let bytes: Buffer;
  try {
    bytes = await readImageFile(image.path);
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return same({ ...base, status: 'unreadable', detail: err.message, msImage: 0 });
  }
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  let decoded: DetectionImage;
  try {
    // The daemon's own decode: reduced for the detector where the image is large enough (decode-for-detection.ts).
    decoded = await decodeForDetection(bytes, image.relative, { inputSize: options.detector.inputSize });
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return same({ ...base, status: 'unreadable', detail: err.message, msImage: elapsed() });
  }
  const pick = primaryFace(await detectFaces(options.detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
  if (!pick.face) return same({ ...base, status: 'no face', msImage: elapsed() });
  const full = await fullResolutionImage(decoded);
  const crop = alignFace(full, pick.face, options.classifier.alignment);
  const invoked = performance.now();
  const result = options.classifier.classifySync(crop);
  const msFace = performance.now() - invoked;
  // Three or more labels: the argmax even below the unsure floor, so every face has a row in the confusion matrix.
  const labels = options.classifier.labels;
  const multiClass = labels.length > 2;
  const alone: ImageOutcome = {
    ...base,
    status: 'classified',
    predicted: multiClass ? labels[argmax(result.probabilities)] : result.label,
    ...(multiClass ? { unsure: result.label === UNSURE_LABEL } : {}),
    probability: result.probability,
    crowded: pick.crowded,
    msImage: elapsed(),
    msFace,
  };
  if (!options.pair) return same(alone);
  const face = { image: full, face: pick.face, imageProbabilities: result.probabilities };
  return { alone, pair: await pairedOutcome(options.pair, labels, alone, face) };
}

/** Runs the evaluation. Throws DATASET_INVALID for an empty/split/mislabeled folder. */
export async function evaluateFolder(options: EvaluateOptions): Promise<Evaluation> {
  const { classifier } = options;
  const labels = classifier.labels;
  const images = await selectImages(options.root, labels, options.limit);
  const outcomes: Outcomes[] = [];
  options.onImage?.(0, images.length);
  for (const image of images) {
    outcomes.push(await evaluateOne(image, options));
    options.onImage?.(outcomes.length, images.length);
  }
  const groups = await readImageGroups(options.root);
  const scored = (side: readonly ImageOutcome[], pair?: EvalPair) =>
    summarize(
      side,
      labels,
      {
        groups: groups ? groupReport(side, labels, groups.source, groups.groups) : undefined,
        ...(pair ? { pair: pairAbout(pair) } : {}),
        detector: options.detector.model,
        model: {
          id: classifier.id,
          path: resolve(classifier.modelPath),
          sha256:
            Object.values(classifier.manifest.files).find((f) => basename(f.path) === basename(classifier.modelPath))
              ?.sha256 ?? null,
          delegate: classifier.delegate.active,
        },
      },
      pair ? { ...evalDecision(classifier), unsureFloor: pair.rules.unsureFloor } : evalDecision(classifier),
    );
  const alone = scored(outcomes.map((o) => o.alone));
  if (!options.pair) return alone;
  const paired = outcomes.map((o) => o.pair);
  return { ...scored(paired, options.pair), alone };
}

/** Microsecond resolution: finer digits are timer noise. */
const roundMs = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 1000) / 1000);

/** Aggregates per-image outcomes into the summary (exported for tests with hand-made outcomes). */
export function summarize(
  outcomes: readonly ImageOutcome[],
  labels: readonly string[],
  about: Pick<EvalSummary, 'detector' | 'model' | 'groups' | 'pair'>,
  decision: EvalDecision = { ordered: false, unsureFloor: 0 },
): Evaluation {
  const classified = outcomes.filter((o) => o.status === 'classified');
  const confusion = confusionMatrix(
    labels,
    classified.map((o) => ({ truth: o.truth, predicted: o.predicted as string })),
  );
  const perClass = Object.fromEntries(labels.map((l) => [l, classMetrics(confusion, l)]));
  const correct = classified.filter((o) => o.predicted === o.truth).length;
  const positiveLabel = labels[1];
  const undetected = { 'no face': 0, unreadable: 0 };
  for (const o of outcomes) if (o.status !== 'classified') undetected[o.status]++;
  const summary: EvalSummary = {
    n: outcomes.length,
    detected: classified.length,
    several_faces_classified: classified.filter((o) => o.crowded).length,
    accuracy: accuracy(confusion),
    accuracy_all: outcomes.length > 0 ? correct / outcomes.length : null,
    recall: Object.fromEntries(labels.map((l) => [l, perClass[l].recall])),
    precision: Object.fromEntries(labels.map((l) => [l, perClass[l].precision])),
    confusion,
    roc_auc:
      labels.length > 2
        ? null
        : rocAuc(classified.map((o) => ({ score: o.probability as number, positive: o.truth === positiveLabel }))),
    ms_per_face: roundMs(median(classified.map((o) => o.msFace as number))),
    ms_per_image: roundMs(median(outcomes.filter((o) => o.status !== 'unreadable').map((o) => o.msImage))),
    undetected,
    ...(labels.length > 2 ? multiClassFields(classified, labels, perClass, decision) : {}),
    ...about,
  };
  return { summary, perClass, images: outcomes, labels, positiveLabel, decision };
}

/** The summary fields of three or more labels, over the classified images. */
function multiClassFields(
  classified: readonly ImageOutcome[],
  labels: readonly string[],
  perClass: Record<string, ClassMetrics>,
  decision: EvalDecision,
): Pick<EvalSummary, 'macro_recall' | 'ece' | 'off_by_more_than_one' | 'unsure'> {
  const samples = classified.map((o) => ({ confidence: o.probability as number, correct: o.predicted === o.truth }));
  const pairs = classified.map((o) => ({ truth: o.truth, predicted: o.predicted as string }));
  return {
    macro_recall: macroRecall(perClass),
    ece: expectedCalibrationError(samples),
    ...(decision.ordered ? { off_by_more_than_one: offByMoreThanOne(labels, pairs) } : {}),
    unsure: unsureReport(decision.unsureFloor, samples),
  };
}
