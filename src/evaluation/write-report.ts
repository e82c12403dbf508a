/**
 * `faceedge eval --report <dir>`: the evaluation as files a person can read and a script can parse —
 * confusion-matrix.png, roc.png, learning-curves.png (when the manifest carries a training history),
 * report.json and report.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelManifest } from '../inference/model-manifest.js';
import { confusionMatrixSvg, groupAccuracySvg, learningCurvesSvg, rocSvg } from './charts.js';
import type { GroupReport } from './group-metrics.js';
import type { EvalSummary, Evaluation } from './evaluate-folder.js';
import type { ImageOutcome } from './image-outcome.js';
import { rocCurve } from './metrics.js';
import { svgToPng } from './svg-chart.js';
import { trainingHistory } from './training-history.js';

export interface ReportOptions {
  /** Output folder, created if missing; existing report files are overwritten. */
  readonly dir: string;
  /** The evaluated model's manifest (for the learning curves and provenance). */
  readonly manifest: ModelManifest;
  /** The evaluated folder, as given. */
  readonly dataset: string;
}

export interface WrittenReport {
  /** Absolute paths of the files written. */
  readonly files: readonly string[];
  /** What was skipped and why (e.g. no training history in the manifest). */
  readonly notes: readonly string[];
}

/** Max misclassified / undetected files listed in report.md (report.json lists them all). */
const MARKDOWN_LIST_LIMIT = 50;

const fmt = (v: number | null, digits = 4): string => (v === null ? 'n/a' : v.toFixed(digits));

function misclassified(evaluation: Evaluation): ImageOutcome[] {
  return evaluation.images.filter((o) => o.status === 'classified' && o.predicted !== o.truth);
}

function markdown(
  evaluation: Evaluation,
  options: ReportOptions,
  charts: readonly string[],
  notes: readonly string[],
): string {
  const { summary, perClass, labels } = evaluation;
  const lines = [
    `# Evaluation of ${summary.model.id}`,
    '',
    `- model: \`${summary.model.path}\` (sha256 \`${summary.model.sha256 ?? 'unknown'}\`, delegate ${summary.model.delegate})`,
    ...(summary.pair
      ? [
          `- as a pair with head \`${summary.pair.head.path}\` (sha256 \`${summary.pair.head.sha256}\`) on the embedding of ${summary.pair.embedder.id} (test-time flip ${summary.pair.embedder.test_time_flip ? 'on' : 'off'}), temperature ${summary.pair.temperature}, unsure floor ${summary.pair.unsure_floor}; the image model alone: \`image-model-alone/\``,
        ]
      : []),
    `- dataset: \`${options.dataset}\`, ${summary.n} images, detector ${summary.detector}`,
    `- created: ${new Date().toISOString()}`,
    '',
    '| metric | value |',
    '| --- | --- |',
    `| images | ${summary.n} |`,
    `| classified | ${summary.detected} (no face ${summary.undetected['no face']}, unreadable ${summary.undetected.unreadable}) |`,
    `| several faces | ${summary.several_faces_classified}, classified the central one |`,
    `| accuracy (detected) | ${fmt(summary.accuracy)} |`,
    `| accuracy (all images, no face = wrong) | ${fmt(summary.accuracy_all)} |`,
    ...(labels.length > 2
      ? multiClassLines(summary)
      : [`| ROC AUC (${evaluation.positiveLabel}) | ${fmt(summary.roc_auc)} |`]),
    `| classifier ms/face (median) | ${fmt(summary.ms_per_face, 3)} |`,
    `| whole path ms/image (median) | ${fmt(summary.ms_per_image, 1)} |`,
    '',
    '| class | precision | recall | F1 | support |',
    '| --- | --- | --- | --- | --- |',
    ...labels.map(
      (l) =>
        `| ${l} | ${fmt(perClass[l].precision)} | ${fmt(perClass[l].recall)} | ${fmt(perClass[l].f1)} | ${perClass[l].support} |`,
    ),
    '',
    `Confusion matrix (rows = true class, columns = predicted):`,
    '',
    `| true \\ predicted | ${labels.join(' | ')} |`,
    `| --- | ${labels.map(() => '---').join(' | ')} |`,
    ...labels.map((t) => `| ${t} | ${labels.map((p) => summary.confusion[t][p]).join(' | ')} |`),
    '',
    ...groupLines(summary.groups, labels),
    ...charts.map((c) => `![${c}](${c})`),
    ...(notes.length > 0 ? ['', ...notes.map((n) => `> ${n}`)] : []),
  ];
  const wrong = misclassified(evaluation);
  const missed = evaluation.images.filter((o) => o.status !== 'classified');
  const list = (title: string, items: ImageOutcome[], describe: (o: ImageOutcome) => string) => {
    if (items.length === 0) return;
    lines.push('', `## ${title} (${items.length})`, '');
    for (const o of items.slice(0, MARKDOWN_LIST_LIMIT)) lines.push(`- \`${o.file}\`: ${describe(o)}`);
    if (items.length > MARKDOWN_LIST_LIMIT) lines.push(`- … ${items.length - MARKDOWN_LIST_LIMIT} more in report.json`);
  };
  list(
    'Misclassified',
    wrong,
    (o) =>
      `${o.truth} → ${o.predicted} (p(${labels.length > 2 ? o.predicted : evaluation.positiveLabel}) = ${fmt(o.probability ?? null, 3)})`,
  );
  list('Without a usable face', missed, (o) => (o.detail ? `${o.status}: ${o.detail}` : o.status));
  return `${lines.join('\n')}\n`;
}

/** The overview rows of three or more labels. */
function multiClassLines(summary: EvalSummary): string[] {
  const lines = [
    `| macro recall (mean of the per-class recalls) | ${fmt(summary.macro_recall ?? null)} |`,
    `| calibration error (ECE, 15 bins) | ${fmt(summary.ece ?? null)} |`,
  ];
  if (summary.off_by_more_than_one !== undefined) {
    lines.push(`| off by more than one step | ${fmt(summary.off_by_more_than_one)} |`);
  }
  if (summary.unsure) {
    lines.push(
      `| answered at the unsure floor ${summary.unsure.floor} (else \`unknown\`) | ${fmt(summary.unsure.answered)}, accuracy there ${fmt(summary.unsure.accuracy_answered)} |`,
    );
  }
  return lines;
}

/** The fairness table: accuracy and recall per age band and ethnicity group, and the worst group. */
function groupLines(groups: GroupReport | undefined, labels: readonly string[]): string[] {
  if (!groups) return [];
  const table = (title: string, rows: GroupReport['age']) =>
    rows.length === 0
      ? []
      : [
          `| ${title} | images | accuracy | ${labels.map((l) => `recall ${l}`).join(' | ')} |`,
          `| --- | ---: | ---: | ${labels.map(() => '---:').join(' | ')} |`,
          ...rows.map(
            (r) => `| ${r.group} | ${r.n} | ${fmt(r.accuracy)} | ${labels.map((l) => fmt(r.recall[l])).join(' | ')} |`,
          ),
          '',
        ];
  const worst = groups.worst
    ? `Worst group (of those with at least 30 images): ${groups.worst.kind} ${groups.worst.group}, ${fmt(groups.worst.accuracy)} on ${groups.worst.n} images.`
    : 'No group has enough images to name the worst one.';
  return [
    '',
    `## Per group (from \`${groups.source}\`; images without a usable face count as wrong)`,
    '',
    ...table('age band', groups.age),
    ...table('ethnicity', groups.race),
    worst,
    '',
  ];
}

/** Writes the report files; returns their paths and the notes on what was skipped. */
export async function writeReport(evaluation: Evaluation, options: ReportOptions): Promise<WrittenReport> {
  await mkdir(options.dir, { recursive: true });
  const files: string[] = [];
  const notes: string[] = [];
  const charts: string[] = [];
  const writeChart = async (name: string, svg: string) => {
    const path = join(options.dir, name);
    await writeFile(path, await svgToPng(svg));
    files.push(path);
    charts.push(name);
  };
  const { summary, labels, positiveLabel } = evaluation;
  await writeChart(
    'confusion-matrix.png',
    confusionMatrixSvg(summary.confusion, labels, `Confusion matrix — ${summary.detected} faces`),
  );
  const samples = evaluation.images
    .filter((o) => o.status === 'classified')
    .map((o) => ({ score: o.probability as number, positive: o.truth === positiveLabel }));
  // A ROC curve thresholds one label's probability: it belongs to two labels only.
  if (labels.length === 2) await writeChart('roc.png', rocSvg(rocCurve(samples), summary.roc_auc, positiveLabel));
  if (summary.groups) await writeChart('groups.png', groupAccuracySvg(summary.groups));
  const history = trainingHistory(options.manifest);
  // `faceedge_train.train --fold-val` learns from val too: its val curves are not held-out scores.
  const valFolded = (options.manifest.training as { fold_val?: boolean } | undefined)?.fold_val === true;
  const valName = valFolded ? 'val (trained on)' : 'val';
  if (history) await writeChart('learning-curves.png', learningCurvesSvg(history, summary.model.id, valName));
  else
    notes.push('learning-curves.png skipped: the model manifest has no training history (history / training.history)');

  const json = {
    summary,
    per_class: evaluation.perClass,
    dataset: options.dataset,
    created: new Date().toISOString(),
    manifest_metrics: options.manifest.metrics ?? null,
    misclassified: misclassified(evaluation).map((o) => ({
      file: o.file,
      truth: o.truth,
      predicted: o.predicted,
      probability: o.probability,
    })),
    undetected: evaluation.images
      .filter((o) => o.status !== 'classified')
      .map((o) => ({ file: o.file, truth: o.truth, reason: o.status, detail: o.detail })),
    charts,
    notes,
  };
  const jsonPath = join(options.dir, 'report.json');
  await writeFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
  const mdPath = join(options.dir, 'report.md');
  await writeFile(mdPath, markdown(evaluation, options, charts, notes));
  files.push(jsonPath, mdPath);
  return { files, notes };
}
