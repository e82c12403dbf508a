/**
 * `faceedge train --on-embedding`: labelled photo folders → a head on the shipped face embedding (issue 24 §4),
 * in six stages that each leave their result in the work folder, so the same command again skips what is done:
 *
 *   split    as `faceedge train` (train-pipeline.ts `splitStage`);
 *   embed    the board's path (detector → primary face → the embedder's alignment, flip) into
 *            `embeddings.jsonl` (embed-labelled-faces.ts), resumed after a stop, reused while the split, the
 *            embedder, the detector and the paired model are the same. Embeddings are biometric data: they stay
 *            in the work folder and are never logged;
 *   heads    `faceedge_train.heads_folders train`: the head grid trained on train, chosen on val only;
 *   export   `faceedge_train.heads_export`: float32 TFLite + manifest pinned to the embedder (and the pair's
 *            `combination`, fitted on val, with --pair-with);
 *   report   `faceedge_train.heads_folders score`: the test figures, read once (head, and pair when paired);
 *   package  copied to `--out` in one rename, signed when a key is given (train-pipeline.ts `packageStage`).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { FaceClassifier } from '../inference/face-classifier.js';
import { FaceDetector, type DetectorModel } from '../inference/face-detector.js';
import { FaceEmbedder } from '../inference/face-embedder.js';
import { readModelPackage, servingFile } from '../model-push/model-package.js';
import { embedLabelledFaces } from './embed-labelled-faces.js';
import { runEngineModule, type PythonEngine } from './python-engine.js';
import { engineFailed, lastJsonLine, packageStage, splitStage } from './train-pipeline.js';
import type { TrainProgress } from './train-progress.js';

/** The paired 64×64 model's name under `models` in the embeddings file. */
const PAIR_KEY = 'pair';

export interface EmbeddingHeadPipelineOptions {
  /** Labelled photo folders: `<dir>/<label>/*` or `<dir>/{train,val,test}/<label>/*`. */
  readonly inputs: readonly string[];
  /** The package folder to write (replaced only once the head is exported and scored). */
  readonly out: string;
  /** Model id and file name prefix. */
  readonly name: string;
  readonly work: string;
  readonly engine: PythonEngine;
  /** The embedder the head reads (its `.tflite`; `manifest.json` beside it). */
  readonly embedderPath: string;
  /** Manifest of the 64×64 model the head is shipped with (same labels, same order), or null. */
  readonly pairWith: string | null;
  /** Options for `heads_folders train` (epochs, labels, ordered, threads). */
  readonly headArgs: readonly string[];
  readonly ordered: boolean;
  readonly seed: number;
  readonly minPerLabel: number;
  readonly detector: DetectorModel;
  readonly key: string | null;
  readonly progress: TrainProgress;
}

/** Test figures of one predictor (`heads_report.scores`). */
export interface HeadScores {
  readonly n: number;
  readonly accuracy: number;
  readonly macro_recall: number;
  readonly off_by_more_than_one?: number;
  readonly recall: Record<string, number>;
}

export interface EmbeddingHeadReport {
  readonly model: string;
  readonly heads: { labels: string[]; faces: Record<string, number>; chosen: Record<string, unknown> };
  readonly test: { head: HeadScores; pair?: HeadScores; '64x64'?: HeadScores };
}

export type EmbeddingHeadPipelineResult =
  | { readonly outcome: 'stopped'; readonly signal: NodeJS.Signals }
  | {
      readonly outcome: 'packaged';
      readonly out: string;
      readonly signedBy: string | null;
      readonly report: EmbeddingHeadReport;
      readonly reportPath: string;
    };

export async function runEmbeddingHeadPipeline(o: EmbeddingHeadPipelineOptions): Promise<EmbeddingHeadPipelineResult> {
  const splits = await splitStage(o);
  if ('signal' in splits) return { outcome: 'stopped', signal: splits.signal };
  const embeddings = await embedStage(o, splits.dirs);
  if (typeof embeddings !== 'string') return { outcome: 'stopped', signal: embeddings.signal };
  o.progress.stage('heads', 'the head grid trained on train, the head chosen on val');
  const heads = await engineStep(o, 'heads_folders', [
    'train',
    '--embeddings',
    embeddings,
    '--out',
    join(o.work, 'heads'),
    ...o.headArgs,
  ]);
  if ('signal' in heads) return { outcome: 'stopped', signal: heads.signal };
  const exported = join(o.work, 'export');
  o.progress.stage('export', `float32 TFLite pinned to the embedder into ${exported}`);
  await rm(exported, { recursive: true, force: true });
  const embedderManifest = join(dirname(o.embedderPath), 'manifest.json');
  const pair = o.pairWith ? ['--pair-with', resolve(o.pairWith), '--pair-key', PAIR_KEY] : [];
  const exportArgs = ['--head', join(o.work, 'heads', 'head.pt'), '--embeddings', embeddings];
  exportArgs.push('--embedder', resolve(embedderManifest), '--out', exported, '--name', o.name, ...pair);
  const exportedSummary = await engineStep(o, 'heads_export', exportArgs);
  if ('signal' in exportedSummary) return { outcome: 'stopped', signal: exportedSummary.signal };
  o.progress.stage('report', 'the test split, read once');
  const scored = await engineStep(o, 'heads_folders', [
    'score',
    '--embeddings',
    embeddings,
    '--head',
    join(o.work, 'heads', 'head.pt'),
    '--manifest',
    join(exported, 'manifest.json'),
    '--pair-key',
    PAIR_KEY,
  ]);
  if ('signal' in scored) return { outcome: 'stopped', signal: scored.signal };
  const { split: _split, dropped: _dropped, ...test } = scored.result as Record<string, unknown>;
  const report = {
    model: o.name,
    heads: heads.result as EmbeddingHeadReport['heads'],
    test: test as unknown as EmbeddingHeadReport['test'],
  };
  for (const line of reportLines(report, o.ordered)) o.progress.line(`  ${line}`);
  const reportPath = join(o.work, 'report.json');
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  const signedBy = await packageStage(o, exported);
  return { outcome: 'packaged', out: o.out, signedBy, report, reportPath };
}

/** One engine module run; its JSON result, or the signal that stopped it. */
async function engineStep(
  o: EmbeddingHeadPipelineOptions,
  module: string,
  args: readonly string[],
): Promise<{ result: unknown } | { signal: NodeJS.Signals }> {
  const outcome = await runEngineModule({
    engine: o.engine,
    module,
    args,
    onLine: (line, stream) => (stream === 'stderr' ? o.progress.line(`  ${line}`) : undefined),
  });
  if (outcome.stoppedBy) return { signal: outcome.stoppedBy };
  if (outcome.code !== 0) throw engineFailed(module, outcome);
  return { result: lastJsonLine(outcome, module) };
}

/** The report's test lines: `head: accuracy 81.2 %, macro recall 80.1 %[, off by >1 2.0 %] (n faces)`. */
export function reportLines(report: Pick<EmbeddingHeadReport, 'test'>, ordered: boolean): string[] {
  const pct = (v: number | undefined) => (v === undefined ? 'n/a' : `${(100 * v).toFixed(1)} %`);
  return Object.entries(report.test).map(
    ([name, s]: [string, HeadScores]) =>
      `test ${name}: accuracy ${pct(s.accuracy)}, macro recall ${pct(s.macro_recall)}` +
      (ordered ? `, off by more than one ${pct(s.off_by_more_than_one)}` : '') +
      ` (${s.n} faces)`,
  );
}

/** What the embeddings were made from: reused while this stays the same. */
async function embeddingsKey(o: EmbeddingHeadPipelineOptions, splits: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const split of splits) hash.update(await readFile(join(split, 'split.json')));
  hash.update(await readFile(o.embedderPath));
  if (o.pairWith) hash.update(await readFile(o.pairWith));
  return hash.update(JSON.stringify({ detector: o.detector })).digest('hex');
}

/**
 * Embeds the split photos into `<work>/embeddings.jsonl`, or reuses it when its inputs are unchanged. Ctrl-C
 * (or SIGTERM) meanwhile stops it after the photo in hand, with the file whole: the next run resumes it.
 */
async function embedStage(
  o: EmbeddingHeadPipelineOptions,
  splits: readonly string[],
): Promise<string | { signal: NodeJS.Signals }> {
  const out = join(o.work, 'embeddings.jsonl');
  const started = join(o.work, 'embeddings.key');
  const done = join(o.work, 'embeddings.done');
  const key = await embeddingsKey(o, splits);
  if ((await readFile(done, 'utf8').catch(() => '')) === key && existsSync(out)) {
    o.progress.stage('embed', `unchanged, reused: ${out}`);
    return out;
  }
  if ((await readFile(started, 'utf8').catch(() => '')) !== key) {
    await rm(out, { force: true });
    await rm(done, { force: true });
    await writeFile(started, key);
  }
  o.progress.stage('embed', `faces found by the board's detector (${o.detector}) and embedded into ${out}`);
  const stopper = new AbortController();
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    stoppedBy ??= signal;
    stopper.abort();
  };
  // From here, before the models load (seconds): a Ctrl-C then is a stop too, not a kill.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const closers: { close(): Promise<void> }[] = [];
  let stopped = false;
  try {
    const detector = await FaceDetector.create({ model: o.detector });
    closers.push(detector);
    const embedder = await FaceEmbedder.create({ modelPath: o.embedderPath });
    closers.push(embedder);
    const classifiers: [string, FaceClassifier][] = [];
    if (o.pairWith) {
      const pkg = await readModelPackage(dirname(o.pairWith));
      const classifier = await FaceClassifier.create({
        modelPath: join(pkg.dir, servingFile(pkg).name),
        manifestPath: o.pairWith,
      });
      closers.push(classifier);
      classifiers.push([PAIR_KEY, classifier]);
    }
    const t0 = Date.now();
    const run = await embedLabelledFaces({
      sources: splits.map((dir) => [dir.split('/').at(-1) ?? dir, dir] as const),
      out,
      detector,
      embedder,
      classifiers,
      onPhoto: (written, todo) => {
        const seconds = (Date.now() - t0) / 1000;
        o.progress.bar(written / todo, (seconds / written) * (todo - written), `${written}/${todo} photos`);
        // a log (no terminal) gets a line now and then instead of the bar
        if (!o.progress.interactive && written % 500 === 0)
          o.progress.line(`  ${written}/${todo} photos, ${(written / seconds).toFixed(1)} photos/s`);
      },
      stop: stopper.signal,
    });
    stopped = run.stopped;
    if (!stopped)
      o.progress.line(`  ${run.total} photos embedded (the file stays in the work folder: embeddings are biometric)`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const c of closers.reverse()) await c.close();
  }
  if (!stopped) await writeFile(done, key);
  // A signal that came once the last photo was in still stops the run here (the file is whole and marked done).
  if (stoppedBy !== null) return { signal: stoppedBy };
  return out;
}

/** `--pair-with` must name a model package's manifest.json (the 64×64 model and its file beside it). */
export function checkPairWith(path: string): void {
  if (!path.endsWith('manifest.json') || !existsSync(path))
    throw new FaceedgeError('USAGE', `--pair-with ${path}: not a model package's manifest.json`, {
      hint: 'name the manifest.json of the 64×64 model the head is shipped with, e.g. models/age/manifest.json',
    });
}
