/**
 * `faceedge eval --anchor <csv>`: the anchor's figures beside the model's, on the same images of the same run
 * (`src/evaluation/anchor-comparison.ts` computes them; this file loads the anchor files, checks them against
 * the folders before the run, and prints the side-by-side tables).
 */
import { basename, extname } from 'node:path';
import { FaceedgeError } from '../../errors.js';
import { listLabeledImages } from '../../dataset/labeled-folder.js';
import { areAgeBands } from '../../evaluation/age-band-labels.js';
import { readAnchorCsv, type AnchorAges } from '../../evaluation/anchor-csv.js';
import {
  checkAnchorCovers,
  checkAnchorMatchesFolder,
  compareWithAnchor,
  type AnchorComparison,
  type SideFigures,
} from '../../evaluation/anchor-comparison.js';
import type { Evaluation } from '../../evaluation/evaluate-folder.js';
import type { GroupReport, GroupRow } from '../../evaluation/group-metrics.js';
import { readImageGroups } from '../../evaluation/group-metrics.js';
import { formatTable } from '../format-table.js';

/** One folder's anchor file, read and checked against the folder. */
export interface LoadedAnchor {
  readonly name: string;
  readonly source: string;
  readonly ages: AnchorAges;
}

/**
 * Reads one anchor file per folder (in the folders' order) and checks each against its folder's listing:
 * rows naming other files are an error, and so are images without a row (unless `limit` samples the folder,
 * then only the evaluated images must have one, checked after the run). Throws USAGE / DATASET_INVALID.
 */
export async function loadAnchors(
  dirs: readonly string[],
  files: readonly string[],
  options: { readonly name?: string; readonly labels: readonly string[]; readonly limit?: number },
): Promise<LoadedAnchor[]> {
  if (files.length !== dirs.length) {
    throw new FaceedgeError(
      'USAGE',
      `--anchor: give one file per folder (${dirs.length} folders, ${files.length} files)`,
    );
  }
  if (!areAgeBands(options.labels)) {
    throw new FaceedgeError(
      'USAGE',
      `--anchor compares age estimates, but the model's labels (${options.labels.join(', ')}) are not age bands`,
    );
  }
  return Promise.all(
    dirs.map(async (dir, i) => {
      const ages = await readAnchorCsv(files[i]);
      const images = (await listLabeledImages(dir)).map((image) => image.relative);
      checkAnchorMatchesFolder(ages, images, { anchor: files[i], dir }, options.limit === undefined);
      return { name: options.name ?? basename(files[i], extname(files[i])), source: files[i], ages };
    }),
  );
}

/** The comparison of each folder's run with its anchor, then of all folders together (several folders). */
export async function compareRuns(
  dirs: readonly string[],
  evaluations: readonly Evaluation[],
  anchors: readonly LoadedAnchor[],
): Promise<{ folders: AnchorComparison[]; total: AnchorComparison | null }> {
  const folders = await Promise.all(
    dirs.map(async (dir, i) => {
      const { images, labels, decision } = evaluations[i];
      const { name, source, ages } = anchors[i];
      checkAnchorCovers(
        ages,
        images.map((o) => o.file),
        { anchor: source, dir },
      );
      const groups = (await readImageGroups(dir)) ?? undefined;
      return compareWithAnchor({
        name,
        source,
        ages,
        modelOutcomes: images,
        labels,
        ordered: decision.ordered,
        groups,
      });
    }),
  );
  if (dirs.length < 2) return { folders, total: null };
  // The total's files are prefixed by their folder, as eval's own total names them.
  const ages = new Map(anchors.flatMap((a, i) => [...a.ages].map(([file, age]) => [`${dirs[i]}/${file}`, age])));
  const total = compareWithAnchor({
    name: anchors[0].name,
    source: anchors.map((a) => a.source).join(', '),
    ages,
    modelOutcomes: evaluations.flatMap((e, i) => e.images.map((o) => ({ ...o, file: `${dirs[i]}/${o.file}` }))),
    labels: evaluations[0].labels,
    ordered: evaluations[0].decision.ordered,
  });
  return { folders, total };
}

const percent = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(1)} %`);

/** One model's comparison with the anchor, under the name its column has (`model`, `pair`, `64×64 alone`). */
export interface NamedComparison {
  readonly title: string;
  readonly comparison: AnchorComparison;
}

/**
 * The side-by-side tables: overall figures, recall per band, and per group where labels.csv gives groups; one column
 * per model (the pair and the image model alone, with `--head`), then the anchor's (the same in every comparison).
 */
export function anchorTables(models: readonly NamedComparison[], labels: readonly string[]): string {
  const [{ comparison: first }] = models;
  const { anchor, name } = first;
  const row = (metric: string, pick: (s: SideFigures) => string) => [
    metric,
    ...models.map((m) => pick(m.comparison.model)),
    pick(anchor),
  ];
  const overall = formatTable([
    ['same images, same run', ...models.map((m) => m.title), `anchor ${name}`],
    row('images', (s) => String(s.n)),
    row('no face (counted as wrong)', (s) => String(s.no_face)),
    row('band accuracy', (s) => percent(s.accuracy)),
    row('macro recall', (s) => percent(s.macro_recall)),
    ...(first.model.off_by_more_than_one === null
      ? []
      : [row('off by more than one band', (s) => percent(s.off_by_more_than_one))]),
    ...labels.filter((l) => first.model.recall[l] !== null).map((l) => row(`recall ${l}`, (s) => percent(s.recall[l]))),
    [
      'mean absolute error, years',
      ...models.map(() => 'n/a (bands)'),
      first.anchor_mae_years === null ? 'n/a' : first.anchor_mae_years.toFixed(1),
    ],
  ]);
  if (!first.groups) return `${overall}\n(anchor: ${first.source})`;
  const { anchor: theirs, model: reference } = first.groups;
  const accuracyOf = (rows: readonly GroupRow[] | undefined, group: string) =>
    percent(rows?.find((o) => o.group === group)?.accuracy ?? null);
  const groupTable = (kind: string, pick: (g: GroupReport) => readonly GroupRow[]) =>
    formatTable([
      [kind, 'n', ...models.map((m) => `${m.title} accuracy`), `${name} accuracy`],
      ...pick(reference).map((r) => [
        r.group,
        String(r.n),
        ...models.map((m) => accuracyOf(m.comparison.groups && pick(m.comparison.groups.model), r.group)),
        accuracyOf(pick(theirs), r.group),
      ]),
    ]);
  return [
    overall,
    groupTable('age group', (g) => g.age),
    groupTable('ethnicity', (g) => g.race),
    `(anchor: ${first.source}; groups: ${reference.source})`,
  ].join('\n\n');
}
