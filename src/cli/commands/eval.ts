/**
 * `faceedge eval <dir>`: accuracy of a classifier through the whole board path (detector, aligner,
 * int8 model) on a folder of labeled photos, optionally with a report folder of charts and lists. With `--head`, the
 * model as it ships in a pair (the image model and a head on the face embedding, `src/evaluation/paired-eval.ts`):
 * the pair is the model under test, and the image model alone is scored beside it on the same faces.
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
import { openEvalPair, type EvalPair } from '../../evaluation/paired-eval.js';
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
  /** The head on the face embedding the model ships with (its manifest beside it). */
  readonly head?: string;
  /** The embedder the head reads (default: the shipped models/face-embed/). */
  readonly embedder?: string;
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
    [`ms/face (${s.pair ? 'model + embedder + head' : 'classifier'}, median)`, fmt(s.ms_per_face, 3)],
    ['ms/image (whole path, median)', fmt(s.ms_per_image, 1)],
    ['model', `${s.model.id} ${s.model.path} (${s.model.delegate})`],
    ...(s.pair
      ? [
          ['paired with head', `${s.pair.head.id} ${s.pair.head.path}`],
          [
            'on the embedding of',
            `${s.pair.embedder.id} (test-time flip ${s.pair.embedder.test_time_flip ? 'on' : 'off'})`,
          ],
          ['pair temperature, unsure floor', `${s.pair.temperature}, ${s.pair.unsure_floor}`],
        ]
      : []),
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
  const { detector, model, pair } = first.summary;
  return summarize(outcomes, first.labels, { detector, model, ...(pair ? { pair } : {}) }, first.decision);
}

/** Report subfolder names: each folder's last two path levels (`utkface/test`), made unique. */
function uniqueNames(dirs: readonly string[]): string[] {
  const names = dirs.map((d) => `${basename(dirname(d))}-${basename(d)}`);
  return names.map((n, i) => (names.indexOf(n) === i ? n : `${n}-${i + 1}`));
}

/** One model's results over the run: each folder's evaluation, the total of several, the anchor comparisons. */
interface RunSide {
  readonly evaluations: readonly Evaluation[];
  readonly total: Evaluation | null;
  readonly compared: { readonly folders: AnchorComparison[]; readonly total: AnchorComparison | null } | null;
}

/** What one `eval` produced: the model under test (the pair, with --head) and, with --head, the image model alone. */
interface EvalRun {
  readonly dirs: readonly string[];
  readonly tested: RunSide;
  readonly alone: RunSide | null;
  /** The image model alone's column title, e.g. `64×64 alone`. */
  readonly aloneTitle: string;
}

/** `i`: a folder's index, or the total of several folders. */
type Part = number | 'total';

const evaluationOf = (side: RunSide, i: Part) => (i === 'total' ? side.total : side.evaluations[i]) as Evaluation;
const anchorOf = (side: RunSide, i: Part) => (i === 'total' ? side.compared?.total : side.compared?.folders[i]);

/** The results of several folders: each, and the total; the anchors compared where given. */
async function sideOf(dirs: readonly string[], evaluations: Evaluation[], anchors: LoadedAnchor[]): Promise<RunSide> {
  return {
    evaluations,
    total: dirs.length > 1 ? totalOf(dirs, evaluations) : null,
    compared: anchors.length > 0 ? await compareRuns(dirs, evaluations, anchors) : null,
  };
}

/**
 * The `--json` object; `summary.anchor` holds the anchor's figures beside the model's (absent without --anchor),
 * `summary.image_model_alone` the image model's own summary (with its anchor comparison) with --head.
 */
function runJson(run: EvalRun): unknown {
  const summaryOf = (side: RunSide, i: Part) => {
    const anchor = anchorOf(side, i);
    const summary = evaluationOf(side, i).summary;
    return anchor ? { ...summary, anchor } : summary;
  };
  const json = (i: Part) =>
    run.alone ? { ...summaryOf(run.tested, i), image_model_alone: summaryOf(run.alone, i) } : summaryOf(run.tested, i);
  if (!run.tested.total) return json(0);
  return { folders: run.dirs.map((dir, i) => ({ dir, summary: json(i) })), total: json('total') };
}

/** One folder's (or the total's) tables: the model under test, the image model alone, then the anchor beside them. */
function partText(run: EvalRun, i: Part, labels: readonly string[]): string {
  const { tested, alone } = run;
  const texts = alone
    ? [
        `-- the pair (the model as it ships)\n${readable(evaluationOf(tested, i))}`,
        `-- ${run.aloneTitle}\n${readable(evaluationOf(alone, i))}`,
      ]
    : [readable(evaluationOf(tested, i))];
  const anchor = anchorOf(tested, i);
  const aloneAnchor = alone ? anchorOf(alone, i) : undefined;
  if (anchor) {
    const models = [{ title: alone ? 'pair' : 'model', comparison: anchor }];
    if (aloneAnchor) models.push({ title: run.aloneTitle, comparison: aloneAnchor });
    texts.push(anchorTables(models, labels));
  }
  return texts.join('\n\n');
}

/** The tables: each folder, then the total of several. */
function runText(run: EvalRun, labels: readonly string[]): string {
  const { dirs } = run;
  const folders = dirs
    .map((dir, i) => `${dirs.length > 1 ? `== ${dir}\n` : ''}${partText(run, i, labels)}`)
    .join('\n\n');
  return run.tested.total
    ? `${folders}\n\n== total (${dirs.length} folders)\n${partText(run, 'total', labels)}`
    : folders;
}

/**
 * `--report`: each folder's report files, with `anchor.json` beside them when an anchor was compared; with --head,
 * the image model alone's in an `image-model-alone` subfolder of each.
 */
async function writeReports(run: EvalRun, reportDir: string, manifest: ModelManifest): Promise<void> {
  const names = uniqueNames(run.dirs);
  const sides = [{ side: run.tested, sub: '' }, ...(run.alone ? [{ side: run.alone, sub: 'image-model-alone' }] : [])];
  for (const [i, dir] of run.dirs.entries()) {
    for (const { side, sub } of sides) {
      const folderReport = join(run.dirs.length > 1 ? join(reportDir, names[i]) : reportDir, sub);
      const written = await writeReport(side.evaluations[i], { dir: folderReport, manifest, dataset: dir });
      for (const note of written.notes) console.error(`note: ${note}`);
      const files = [...written.files];
      const anchor = anchorOf(side, i);
      if (anchor) {
        files.push(join(folderReport, 'anchor.json'));
        await writeFile(files[files.length - 1], `${JSON.stringify(anchor, null, 2)}\n`);
      }
      console.error(`report: ${files.join(', ')}`);
    }
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
    .option(
      '--head <tflite>',
      'the model ships as a pair with this head on the face embedding (its manifest beside it): score the pair, and the model alone beside it',
    )
    .option('--embedder <tflite>', 'the face embedder the head reads (default: the shipped models/face-embed/)')
    .action(async (dirs: string[], flags: EvalFlags) => {
      const limit = parseLimit(flags.limit);
      const classifier = await openClassifier(flags.model);
      const evaluations: Evaluation[] = [];
      let anchors: LoadedAnchor[] = [];
      let pair: (EvalPair & { close(): Promise<void> }) | null = null;
      try {
        if (flags.embedder && !flags.head) throw new FaceedgeError('USAGE', '--embedder is for --head');
        // Checked before the run, as the anchors: a head of other labels or of another embedder is refused.
        if (flags.head)
          pair = await openEvalPair({ headPath: flags.head, labels: classifier.labels, embedderPath: flags.embedder });
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
                pair: pair ?? undefined,
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
        await Promise.all([classifier.close(), pair?.close()]);
      }
      const alone = evaluations.map((e) => e.alone).filter((e): e is Evaluation => e !== undefined);
      const run: EvalRun = {
        dirs,
        tested: await sideOf(dirs, evaluations, anchors),
        alone: alone.length > 0 ? await sideOf(dirs, alone, anchors) : null,
        aloneTitle: `${classifier.inputSize}×${classifier.inputSize} alone`,
      };
      console.log(flags.json ? JSON.stringify(runJson(run)) : runText(run, classifier.labels));
      if (flags.report) {
        const reportDir = flags.report === true ? join(dirname(classifier.modelPath), 'report') : flags.report;
        await writeReports(run, reportDir, classifier.manifest);
      }
    });
}
