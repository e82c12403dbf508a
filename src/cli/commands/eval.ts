/**
 * `faceedge eval <dir>`: accuracy of a classifier through the whole board path (detector, aligner,
 * int8 model) on a folder of labeled photos, optionally with a report folder of charts and lists.
 */
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Option, type Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import { Progress } from '../../dataset/progress.js';
import { evaluateFolder, summarize, type EvalSummary, type Evaluation } from '../../evaluation/evaluate-folder.js';
import { writeReport } from '../../evaluation/write-report.js';
import { openClassifier } from '../../inference/shipped-model.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';
import { formatTable } from '../format-table.js';
import type { AnchorComparison } from '../../evaluation/anchor-comparison.js';
import type { ModelManifest } from '../../inference/model-manifest.js';
import { anchorTables, compareRuns, loadAnchors, type LoadedAnchor } from './eval-anchor.js';

interface EvalFlags {
  readonly json?: boolean;
  readonly model?: string;
  /** `true` when given without a folder: `<model dir>/report`. */
  readonly report?: string | true;
  readonly detector: DetectorModel;
  readonly limit?: string;
  /** One anchor file per folder (`train/teacher/age.ts`); repeatable. */
  readonly anchor: string[];
  readonly anchorName?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new FaceedgeError('USAGE', `--limit must be a positive integer, got "${text}"`);
  return n;
}

const fmt = (v: number | null, digits = 4): string => (v === null ? 'n/a' : v.toFixed(digits));

function readable(evaluation: Evaluation): string {
  const { summary: s, perClass, labels } = evaluation;
  const overview = formatTable([
    ['metric', 'value'],
    ['images', String(s.n)],
    ['classified', `${s.detected} (no face ${s.undetected['no face']}, unreadable ${s.undetected.unreadable})`],
    ['several faces', `${s.several_faces_classified}, classified the central one`],
    ['accuracy (detected)', fmt(s.accuracy)],
    ['accuracy (all)', fmt(s.accuracy_all)],
    ...(labels.length > 2 ? multiClassRows(s) : [[`ROC AUC (${evaluation.positiveLabel})`, fmt(s.roc_auc)]]),
    ['ms/face (classifier, median)', fmt(s.ms_per_face, 3)],
    ['ms/image (whole path, median)', fmt(s.ms_per_image, 1)],
    ['model', `${s.model.id} ${s.model.path} (${s.model.delegate})`],
  ]);
  const classes = formatTable([
    ['class', 'precision', 'recall', 'f1', 'support', ...labels.map((l) => `→ ${l}`)],
    ...labels.map((l) => [
      l,
      fmt(perClass[l].precision),
      fmt(perClass[l].recall),
      fmt(perClass[l].f1),
      String(perClass[l].support),
      ...labels.map((p) => String(s.confusion[l][p])),
    ]),
  ]);
  return `${overview}\n\n${classes}\n(→ columns: confusion matrix, rows = true class)`;
}

/** The overview rows of three or more labels (README "faceedge eval"). */
function multiClassRows(s: EvalSummary): string[][] {
  const rows = [
    ['macro recall', fmt(s.macro_recall ?? null)],
    ['calibration error (ECE)', fmt(s.ece ?? null)],
  ];
  if (s.off_by_more_than_one !== undefined) rows.push(['off by more than one step', fmt(s.off_by_more_than_one)]);
  if (s.unsure) {
    rows.push([
      `answered (unsure floor ${s.unsure.floor})`,
      `${fmt(s.unsure.answered)}, accuracy there ${fmt(s.unsure.accuracy_answered)}`,
    ]);
  }
  return rows;
}

/** All folders' images as one evaluation (files prefixed by their folder so they stay distinct). */
function totalOf(dirs: readonly string[], evaluations: readonly Evaluation[]): Evaluation {
  const [first] = evaluations;
  const outcomes = evaluations.flatMap((e, i) => e.images.map((o) => ({ ...o, file: `${dirs[i]}/${o.file}` })));
  const { detector, model } = first.summary;
  return summarize(outcomes, first.labels, { detector, model }, first.decision);
}

/** Report subfolder names: each folder's last two path levels (`utkface/test`), made unique. */
function uniqueNames(dirs: readonly string[]): string[] {
  const names = dirs.map((d) => `${basename(dirname(d))}-${basename(d)}`);
  return names.map((n, i) => (names.indexOf(n) === i ? n : `${n}-${i + 1}`));
}

/** What one `eval` produced: each folder's evaluation, the total of several, and the anchor comparisons. */
interface EvalRun {
  readonly dirs: readonly string[];
  readonly evaluations: readonly Evaluation[];
  readonly total: Evaluation | null;
  readonly compared: { readonly folders: AnchorComparison[]; readonly total: AnchorComparison | null } | null;
}

const anchorOf = (run: EvalRun, i: number | 'total') =>
  i === 'total' ? run.compared?.total : run.compared?.folders[i];

/** The `--json` object; `summary.anchor` holds the anchor's figures beside the model's (absent without --anchor). */
function runJson(run: EvalRun): unknown {
  const withAnchor = (summary: EvalSummary, i: number | 'total') => {
    const anchor = anchorOf(run, i);
    return anchor ? { ...summary, anchor } : summary;
  };
  if (!run.total) return withAnchor(run.evaluations[0].summary, 0);
  return {
    folders: run.dirs.map((dir, i) => ({ dir, summary: withAnchor(run.evaluations[i].summary, i) })),
    total: withAnchor(run.total.summary, 'total'),
  };
}

/** The tables: each folder (with its anchor's beside it), then the total of several. */
function runText(run: EvalRun, labels: readonly string[]): string {
  const anchorText = (i: number | 'total') => {
    const anchor = anchorOf(run, i);
    return anchor ? `\n\n${anchorTables(anchor, labels)}` : '';
  };
  const { dirs, evaluations, total } = run;
  const folders = dirs
    .map((dir, i) => `${dirs.length > 1 ? `== ${dir}\n` : ''}${readable(evaluations[i])}${anchorText(i)}`)
    .join('\n\n');
  return total ? `${folders}\n\n== total (${dirs.length} folders)\n${readable(total)}${anchorText('total')}` : folders;
}

/** `--report`: each folder's report files, with `anchor.json` beside them when an anchor was compared. */
async function writeReports(run: EvalRun, reportDir: string, manifest: ModelManifest): Promise<void> {
  const names = uniqueNames(run.dirs);
  for (const [i, dir] of run.dirs.entries()) {
    const folderReport = run.dirs.length > 1 ? join(reportDir, names[i]) : reportDir;
    const written = await writeReport(run.evaluations[i], { dir: folderReport, manifest, dataset: dir });
    for (const note of written.notes) console.error(`note: ${note}`);
    const files = [...written.files];
    const anchor = anchorOf(run, i);
    if (anchor) {
      files.push(join(folderReport, 'anchor.json'));
      await writeFile(files[files.length - 1], `${JSON.stringify(anchor, null, 2)}\n`);
    }
    console.error(`report: ${files.join(', ')}`);
  }
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description(
      "evaluate a classifier through detect → align → classify on <dir>/<label>/*.jpg, one subfolder per label of the model's manifest (several folders: each, then the total)",
    )
    .argument('<dirs...>', 'folder(s) with one subfolder per class, named like the model labels')
    .option('--json', 'print one JSON object instead of tables')
    .option(
      '--model <path>',
      'classifier .tflite with its manifest.json next to it (default: the shipped models/faceedge-gender_int8.tflite)',
    )
    .option(
      '--report [dir]',
      'write charts, report.json and report.md (default folder: <model dir>/report; several folders: one subfolder each)',
    )
    .addOption(new Option('--detector <model>', 'BlazeFace model').choices(['short', 'full']).default('short'))
    .option('--limit <n>', 'evaluate at most n images, spread over the classes')
    .option(
      '--anchor <csv>',
      "age-band models: another estimator's ages for the folder's images (file,age; train/teacher/age.ts), scored beside the model on the same images; one per folder, repeatable",
      collect,
      [],
    )
    .option('--anchor-name <name>', "the anchor's name in the report, e.g. human-3.3.6 (default: the file's name)")
    .action(async (dirs: string[], flags: EvalFlags) => {
      const limit = parseLimit(flags.limit);
      const classifier = await openClassifier(flags.model);
      const evaluations: Evaluation[] = [];
      let anchors: LoadedAnchor[] = [];
      try {
        // Checked before the run: a wrong anchor file fails in a second, not after an hour of evaluation.
        if (flags.anchor.length > 0)
          anchors = await loadAnchors(dirs, flags.anchor, { name: flags.anchorName, labels: classifier.labels, limit });
        const detector = await FaceDetector.create({ model: flags.detector });
        try {
          for (const dir of dirs) {
            let progress: Progress | null = null;
            evaluations.push(
              await evaluateFolder({
                root: dir,
                detector,
                classifier,
                limit,
                // Progress only on a terminal: in a pipe or a log it would be noise around the JSON.
                onImage: process.stderr.isTTY
                  ? (done, total) =>
                      done === 0 ? (progress = new Progress(total, `eval ${basename(dir)}`)) : progress?.tick()
                  : undefined,
              }),
            );
          }
        } finally {
          await detector.close();
        }
      } finally {
        await classifier.close();
      }
      const total = dirs.length > 1 ? totalOf(dirs, evaluations) : null;
      const compared = anchors.length > 0 ? await compareRuns(dirs, evaluations, anchors) : null;
      const run: EvalRun = { dirs, evaluations, total, compared };
      console.log(flags.json ? JSON.stringify(runJson(run)) : runText(run, classifier.labels));
      if (flags.report) {
        const reportDir = flags.report === true ? join(dirname(classifier.modelPath), 'report') : flags.report;
        await writeReports(run, reportDir, classifier.manifest);
      }
    });
}
