/**
 * Our model beside an anchor (another estimator's ages, `anchor-csv.ts`) on the same images of the same run:
 * the anchor's ages are binned with the model manifest's bands (`age-band-labels.ts`) into the same per-image
 * records as the model's, and both sides are scored by the same functions. An image where a side found no usable
 * face counts as wrong for that side (in accuracy, recall and "off by more than one band"), and the figures say
 * how many there were.
 */
import { FaceedgeError } from '../errors.js';
import { bandOf } from './age-band-labels.js';
import type { AnchorAges } from './anchor-csv.js';
import { groupReport, type GroupReport, type ImageGroups } from './group-metrics.js';
import type { ImageOutcome } from './image-outcome.js';
import { accuracy, classMetrics, confusionMatrix } from './metrics.js';
import { macroRecall, offByMoreThanOne } from './multiclass-metrics.js';

/** One side's figures over all images of the run; a no-face image is a wrong answer. */
export interface SideFigures {
  /** Images of the run. */
  readonly n: number;
  /** Images where this side found a face and answered a band. */
  readonly answered: number;
  /** n − answered: counted as wrong. */
  readonly no_face: number;
  /** Correct / n. */
  readonly accuracy: number | null;
  /** Mean over the classes with images of correct / images of the class. */
  readonly macro_recall: number | null;
  /** Ordered labels: (answers more than one band off + no-face images) / n; null for unordered labels. */
  readonly off_by_more_than_one: number | null;
  /** Per class: correct / images of the class (null where the run has none). */
  readonly recall: Record<string, number | null>;
}

/** `faceedge eval --anchor`'s comparison, in `--json` as `summary.anchor`. */
export interface AnchorComparison {
  /** The anchor's name (`--anchor-name`), e.g. `human-3.3.6`. */
  readonly name: string;
  /** The anchor file. */
  readonly source: string;
  readonly model: SideFigures;
  readonly anchor: SideFigures;
  /** Mean |anchor age − true age| in years over the images it answered whose labels.csv gives an age; else null. */
  readonly anchor_mae_years: number | null;
  /** Per age band and ethnicity group, both sides (a labels.csv beside the folder; as `summary.groups`). */
  readonly groups?: { readonly model: GroupReport; readonly anchor: GroupReport };
}

/** The pseudo-label of a no-face image in the confusion matrix, so that it is a wrong answer in every count. */
const NO_FACE = '(no face)';

/** Scores one side's per-image records over all of them (the same code for the model and the anchor). */
export function scoreSide(outcomes: readonly ImageOutcome[], labels: readonly string[], ordered: boolean): SideFigures {
  const answeredPairs = outcomes
    .filter((o) => o.status === 'classified' && o.predicted !== undefined)
    .map((o) => ({ truth: o.truth, predicted: o.predicted as string }));
  const noFace = outcomes.length - answeredPairs.length;
  const matrix = confusionMatrix(
    [...labels, NO_FACE],
    [
      ...answeredPairs,
      ...outcomes.filter((o) => o.status !== 'classified').map((o) => ({ truth: o.truth, predicted: NO_FACE })),
    ],
  );
  const perClass = Object.fromEntries(labels.map((l) => [l, classMetrics(matrix, l)]));
  const offAnswered = offByMoreThanOne(labels, answeredPairs);
  return {
    n: outcomes.length,
    answered: answeredPairs.length,
    no_face: noFace,
    accuracy: accuracy(matrix),
    macro_recall: macroRecall(perClass),
    off_by_more_than_one:
      !ordered || outcomes.length === 0 ? null : ((offAnswered ?? 0) * answeredPairs.length + noFace) / outcomes.length,
    recall: Object.fromEntries(labels.map((l) => [l, perClass[l].recall])),
  };
}

/**
 * Throws DATASET_INVALID unless the anchor file belongs to the folder: every row names an image of the folder
 * (`folderFiles`, as `listLabeledImages` gives them relative to it) and, when `complete`, every image has a row.
 * Run before the evaluation, so a wrong file fails in a second rather than after the run.
 */
export function checkAnchorMatchesFolder(
  ages: AnchorAges,
  folderFiles: readonly string[],
  where: { readonly anchor: string; readonly dir: string },
  complete: boolean,
): void {
  const inFolder = new Set(folderFiles);
  const foreign = [...ages.keys()].filter((f) => !inFolder.has(f));
  if (foreign.length > 0) {
    throw new FaceedgeError(
      'DATASET_INVALID',
      `${where.anchor}: ${foreign.length} of its ${ages.size} rows name files not in ${where.dir} (first: ${foreign[0]})`,
      { hint: 'the anchor file is made for one eval folder: run train/teacher/age.ts on this folder' },
    );
  }
  if (complete) checkAnchorCovers(ages, folderFiles, where);
}

/** Throws DATASET_INVALID when an image of `files` has no row in the anchor file. */
export function checkAnchorCovers(
  ages: AnchorAges,
  files: readonly string[],
  where: { readonly anchor: string; readonly dir: string },
): void {
  const missing = files.filter((f) => !ages.has(f));
  if (missing.length > 0) {
    throw new FaceedgeError(
      'DATASET_INVALID',
      `${where.anchor}: ${missing.length} of the ${files.length} images of ${where.dir} have no row (first: ${missing[0]})`,
      { hint: 'an interrupted train/teacher/age.ts resumes when run again with the same output file' },
    );
  }
}

/** The anchor's per-image records for the images of the model's run: its age binned with the model's bands. */
export function anchorOutcomes(
  modelOutcomes: readonly ImageOutcome[],
  ages: AnchorAges,
  labels: readonly string[],
): ImageOutcome[] {
  return modelOutcomes.map((o) => {
    const age = ages.get(o.file);
    if (age === undefined) throw new FaceedgeError('DATASET_INVALID', `the anchor file has no row for ${o.file}`);
    const base = { file: o.file, truth: o.truth, msImage: 0 };
    return age === null
      ? { ...base, status: 'no face' as const }
      : { ...base, status: 'classified' as const, predicted: bandOf(age, labels) };
  });
}

/** Mean absolute error in years of the anchor's ages against the true ones; null when no image has both. */
export function meanAbsoluteErrorYears(
  ages: AnchorAges,
  files: readonly string[],
  trueYears: (file: string) => number | undefined,
): number | null {
  const errors = files.flatMap((f) => {
    const [estimate, truth] = [ages.get(f), trueYears(f)];
    return estimate === null || estimate === undefined || truth === undefined ? [] : [Math.abs(estimate - truth)];
  });
  return errors.length > 0 ? errors.reduce((a, b) => a + b, 0) / errors.length : null;
}

/** Everything `eval --anchor` reports for one run of the model over a folder. */
export function compareWithAnchor(options: {
  readonly name: string;
  readonly source: string;
  readonly ages: AnchorAges;
  readonly modelOutcomes: readonly ImageOutcome[];
  readonly labels: readonly string[];
  readonly ordered: boolean;
  /** The folder's labels.csv groups (`readImageGroups`), when it has one. */
  readonly groups?: { readonly source: string; readonly groups: ReadonlyMap<string, ImageGroups> };
}): AnchorComparison {
  const { labels, ordered, modelOutcomes, groups } = options;
  const anchor = anchorOutcomes(modelOutcomes, options.ages, labels);
  return {
    name: options.name,
    source: options.source,
    model: scoreSide(modelOutcomes, labels, ordered),
    anchor: scoreSide(anchor, labels, ordered),
    anchor_mae_years: meanAbsoluteErrorYears(
      options.ages,
      modelOutcomes.map((o) => o.file),
      (file) => groups?.groups.get(file)?.years,
    ),
    ...(groups
      ? {
          groups: {
            model: groupReport(modelOutcomes, labels, groups.source, groups.groups),
            anchor: groupReport(anchor, labels, groups.source, groups.groups),
          },
        }
      : {}),
  };
}
