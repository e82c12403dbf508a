/**
 * `faceedge train`: labelled photo folders → a verified, optionally signed model package, in six stages that
 * each leave their result in the work folder, so that running the same command again skips what is done and
 * resumes what was stopped:
 *
 *   split    `faceedge_train.splitting`: every photo decoded, duplicates and corrupt files dropped, a seeded
 *            split by person where `labels.csv` names one (an unchanged input is left as it was);
 *   prepare  the board's own detector and aligner (`dataset prepare`), redone only when the split or the crop
 *            geometry changed;
 *   train    `faceedge_train.train`, resumed from its last checkpoint when the settings are the same;
 *   export   float32 + int8 TFLite, temperature and `unsure` floor, self-test (`faceedge_train.export`);
 *   verify   both files in the TFLite runtime against the checkpoint on the test split, the board's own
 *            package check (sha256, self-test), and the quality gate: a model no better than chance, or whose
 *            int8 file loses more than the allowed points, is not shipped;
 *   package  copied to `--out` in one rename, signed when a key is given.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { prepareDataset } from '../dataset/prepare-dataset.js';
import { FaceedgeError } from '../errors.js';
import { FaceDetector, type DetectorModel } from '../inference/face-detector.js';
import { verifyModelPackage } from '../model-push/install-model.js';
import { MANIFEST_FILE, SIGNATURE_FILE } from '../model-push/model-package.js';
import { loadPrivateKey, signManifest } from '../model-push/model-signature.js';
import type { CropAlignment } from '../vision/align-face.js';
import { runEngineModule, type ModuleOutcome, type PythonEngine } from './python-engine.js';
import type { TrainProgress } from './train-progress.js';
import { qualityGate, type QualityGateLimits, type VerifyReport } from './quality-gate.js';

export interface TrainPipelineOptions {
  /** Labelled photo folders: `<dir>/<label>/*` or `<dir>/{train,val,test}/<label>/*`. */
  readonly inputs: readonly string[];
  /** The package folder to write (replaced only by a verified package). */
  readonly out: string;
  /** Model id and file name prefix. */
  readonly name: string;
  /** Where the stages keep their results between runs. */
  readonly work: string;
  readonly engine: PythonEngine;
  /** Options passed to `faceedge_train.train` as they are (epochs, labels, device…). */
  readonly trainArgs: readonly string[];
  /**
   * Start from this model's features: a checkpoint (`.pt`) as it is, or a shipped float32 TFLite file, first
   * turned back into a checkpoint by `faceedge_train.unfold` (on the first crops folder).
   */
  readonly init: string | null;
  /** Processes for `torch.distributed.run` (1: a plain process). */
  readonly processes: number;
  readonly seed: number;
  /** Photos a label needs (the split refuses the whole input below it). */
  readonly minPerLabel: number;
  readonly detector: DetectorModel;
  readonly alignment: CropAlignment;
  /** ed25519 private key (PEM) to sign the package with; unsigned without. */
  readonly key: string | null;
  /** Start the training run afresh even when one with other settings is in the work folder. */
  readonly overwrite: boolean;
  readonly gate: QualityGateLimits;
  readonly progress: TrainProgress;
}

export type TrainPipelineResult =
  | { readonly outcome: 'stopped'; readonly signal: NodeJS.Signals }
  | {
      readonly outcome: 'packaged';
      readonly out: string;
      readonly signedBy: string | null;
      readonly report: VerifyReport;
      readonly reportPath: string;
    };

/** Why a stage's engine run failed: the engine printed the details (one line per problem) before. */
export function engineFailed(stage: string, outcome: ModuleOutcome): FaceedgeError {
  return new FaceedgeError(
    outcome.code === 2 ? 'USAGE' : 'TRAINING_FAILED',
    `${stage} failed (exit ${outcome.code}); the lines above say why`,
    { hint: outcome.code === 2 ? 'fix the input it names and run the same command again' : undefined },
  );
}

/** The engine module's result: the JSON object its last stdout line holds. */
export function lastJsonLine(outcome: ModuleOutcome, module: string): unknown {
  const line = outcome.stdout.at(-1) ?? '';
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new FaceedgeError('TRAINING_FAILED', `faceedge_train.${module} ended without its JSON result`, {
      hint: `its last line was ${JSON.stringify(line.slice(0, 200))}; is the engine (train/) from the same faceedge version?`,
    });
  }
}

export async function runTrainPipeline(o: TrainPipelineOptions): Promise<TrainPipelineResult> {
  await mkdir(o.work, { recursive: true });
  const splits = await splitStage(o);
  if ('signal' in splits) return { outcome: 'stopped', signal: splits.signal };
  const crops = await prepareStage(o, splits.dirs);
  const trained = await trainStage(o, crops);
  if (trained) return { outcome: 'stopped', signal: trained };
  const exported = await exportStage(o, crops[0]);
  if (typeof exported !== 'string') return { outcome: 'stopped', signal: exported.signal };
  const report = await verifyStage(o, exported, crops[0]);
  if ('signal' in report) return { outcome: 'stopped', signal: report.signal };
  const reportPath = join(o.work, 'report.json');
  await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
  const signedBy = await packageStage(o, exported);
  return { outcome: 'packaged', out: o.out, signedBy, report, reportPath };
}

/** The split stage, shared with `faceedge train --on-embedding`: one split folder per input. */
export async function splitStage(
  o: Pick<TrainPipelineOptions, 'inputs' | 'work' | 'engine' | 'seed' | 'minPerLabel' | 'progress'>,
): Promise<{ dirs: string[] } | { signal: NodeJS.Signals }> {
  o.progress.stage('split', `${o.inputs.length} photo folder(s)`);
  const dirs: string[] = [];
  for (const [i, input] of o.inputs.entries()) {
    const out = join(o.work, `split-${i}`);
    const outcome = await runEngineModule({
      engine: o.engine,
      module: 'splitting',
      args: [resolve(input), '--out', out, '--seed', String(o.seed), '--min-per-label', String(o.minPerLabel)],
      onLine: (line, stream) => (stream === 'stderr' ? o.progress.line(`  ${line}`) : undefined),
    });
    if (outcome.stoppedBy) return { signal: outcome.stoppedBy };
    if (outcome.code !== 0) throw engineFailed(`splitting ${input}`, outcome);
    const summary = lastJsonLine(outcome, 'splitting') as { labels?: string[]; counts?: unknown };
    o.progress.line(`  ${input}: labels ${JSON.stringify(summary.labels)}, ${JSON.stringify(summary.counts)}`);
    dirs.push(out);
  }
  return { dirs };
}

/** What a crops folder was made from; the folder is reused while this stays the same. */
async function cropsKey(o: TrainPipelineOptions, split: string): Promise<string> {
  const record = await readFile(join(split, 'split.json'));
  return createHash('sha256')
    .update(record)
    .update(JSON.stringify({ detector: o.detector, alignment: o.alignment, faces: 'strict' }))
    .digest('hex');
}

async function prepareStage(o: TrainPipelineOptions, splits: readonly string[]): Promise<string[]> {
  o.progress.stage('prepare', `faces found and aligned by the board's own detector (${o.detector})`);
  const crops: string[] = [];
  let detector: FaceDetector | null = null;
  try {
    for (const [i, split] of splits.entries()) {
      const out = join(o.work, `crops-${i}`);
      const stamp = join(o.work, `crops-${i}.key`);
      const key = await cropsKey(o, split);
      if (existsSync(join(out, MANIFEST_FILE)) && (await readFile(stamp, 'utf8').catch(() => '')) === key) {
        o.progress.line(`  ${basename(out)}: unchanged, reused`);
        crops.push(out);
        continue;
      }
      await rm(out, { recursive: true, force: true });
      detector ??= await FaceDetector.create({ model: o.detector });
      const manifest = await prepareDataset({
        source: split,
        output: out,
        detector,
        alignment: o.alignment,
        progress: o.progress.interactive,
      });
      const reasons: Record<string, number> = {};
      for (const s of manifest.skipped) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
      o.progress.line(`  ${basename(out)}: ${manifest.written} faces, dropped ${JSON.stringify(reasons)}`);
      await writeFile(stamp, key);
      crops.push(out);
    }
  } finally {
    await detector?.close();
  }
  return crops;
}

/** Returns the signal that stopped the run, or null once `best.pt` stands for these settings. */
async function trainStage(o: TrainPipelineOptions, crops: readonly string[]): Promise<NodeJS.Signals | null> {
  const run = join(o.work, 'run');
  const init = o.init === null ? [] : ['--init', await initCheckpoint(o, o.init, crops[0])];
  const args = [...crops.flatMap((c) => ['--data', c]), '--out', run, '--progress', '-', ...init, ...o.trainArgs];
  const settings = JSON.stringify({ args, processes: o.processes });
  const settingsFile = join(o.work, 'run.settings.json');
  const previous = await readFile(settingsFile, 'utf8').catch(() => null);
  const same = previous === settings;
  if (same && existsSync(join(run, 'metrics.json')) && existsSync(join(run, 'best.pt'))) {
    o.progress.stage('train', `done before with the same settings: ${run}`);
    return null;
  }
  let mode: string[] = [];
  if (existsSync(join(run, 'last.pt'))) {
    if (same) mode = ['--resume'];
    else if (o.overwrite) mode = ['--overwrite'];
    else
      throw new FaceedgeError('USAGE', `${run} holds a run started with other settings`, {
        hint: 'run the command as before to resume it, or add --overwrite to start again',
      });
  }
  await writeFile(settingsFile, settings);
  o.progress.stage('train', mode[0] === '--resume' ? `resuming ${run}` : `training in ${run}`);
  const outcome = await runEngineModule({
    engine: o.engine,
    module: 'train',
    args: [...args, ...mode],
    processes: o.processes,
    onEvent: (e) => o.progress.engineEvent(e),
    onLine: (line) => o.progress.line(`  ${line}`),
  });
  if (outcome.stoppedBy) return outcome.stoppedBy;
  if (outcome.code !== 0) throw engineFailed('training', outcome);
  return null;
}

/** A checkpoint to start from: `.pt` as given; a TFLite file unfolded once into the work folder. */
async function initCheckpoint(o: TrainPipelineOptions, model: string, crops: string): Promise<string> {
  if (!model.endsWith('.tflite')) return resolve(model);
  const target = join(o.work, `init-${basename(model, '.tflite')}.pt`);
  if (existsSync(target)) return target;
  o.progress.line(`  unfolding ${model} into ${target}`);
  const outcome = await runEngineModule({
    engine: o.engine,
    module: 'unfold',
    args: ['--model', resolve(model), '--data', crops, '--out', target],
    onLine: (line) => o.progress.line(`  ${line}`),
  });
  if (outcome.code !== 0 || outcome.stoppedBy) throw engineFailed(`unfolding ${model}`, outcome);
  return target;
}

async function exportStage(o: TrainPipelineOptions, crops: string): Promise<string | { signal: NodeJS.Signals }> {
  const out = join(o.work, 'export');
  o.progress.stage('export', `float32 + int8 TFLite of the best epoch into ${out}`);
  await rm(out, { recursive: true, force: true });
  const outcome = await runEngineModule({
    engine: o.engine,
    module: 'export',
    args: ['--checkpoint', join(o.work, 'run', 'best.pt'), '--calibration', crops, '--out', out, '--name', o.name],
    onLine: (line) => o.progress.line(`  ${line}`),
  });
  if (outcome.stoppedBy) return { signal: outcome.stoppedBy };
  if (outcome.code !== 0) throw engineFailed('export', outcome);
  return out;
}

async function verifyStage(
  o: TrainPipelineOptions,
  exported: string,
  crops: string,
): Promise<VerifyReport | { signal: NodeJS.Signals }> {
  o.progress.stage('verify', 'both files against the checkpoint on the test split, then the package check');
  const outcome = await runEngineModule({
    engine: o.engine,
    module: 'verify_export',
    args: ['--model-dir', exported, '--data', crops, '--split', 'test'],
    onLine: (line, stream) => (stream === 'stderr' ? o.progress.line(`  ${line}`) : undefined),
  });
  if (outcome.stoppedBy) return { signal: outcome.stoppedBy };
  if (outcome.code !== 0) throw engineFailed('verification', outcome);
  const runtime = lastJsonLine(outcome, 'verify_export') as VerifyReport['runtime'];
  const pkg = await verifyModelPackage(exported, { trustedKeys: [], requireSignature: false });
  const manifest = pkg.pkg.manifest as unknown as VerifyReport['manifest'];
  const report: VerifyReport = {
    model: o.name,
    runtime,
    manifest: { labels: manifest.labels, metrics: manifest.metrics },
    selftest: pkg.selfTests.map((t) => ({ cases: t.cases, maxError: t.maxError })),
  };
  const verdict = qualityGate(report, o.gate);
  for (const line of verdict.lines) o.progress.line(`  ${line}`);
  if (!verdict.ok) {
    await writeFile(join(o.work, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    throw new FaceedgeError('TRAINING_FAILED', `the model is not shipped: ${verdict.refusals.join('; ')}`, {
      hint: `nothing was written to ${o.out}; the report is ${join(o.work, 'report.json')}. More photos per label, more epochs (--epochs) or cleaner labels usually help`,
    });
  }
  return report;
}

/** Copies the verified export into `out` in one rename and signs it there; returns the signing key's id. */
export async function packageStage(
  o: Pick<TrainPipelineOptions, 'out' | 'key' | 'progress'>,
  exported: string,
): Promise<string | null> {
  o.progress.stage('package', o.key ? `signed with ${o.key} into ${o.out}` : `unsigned into ${o.out}`);
  if (existsSync(o.out) && readdirSync(o.out).length > 0 && !existsSync(join(o.out, MANIFEST_FILE)))
    throw new FaceedgeError('USAGE', `${o.out} exists and is not a model package`, {
      hint: 'name a new folder or an earlier model package with --out',
    });
  const staging = `${resolve(o.out)}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(dirname(staging), { recursive: true });
  await cp(exported, staging, { recursive: true });
  await rm(join(staging, SIGNATURE_FILE), { force: true });
  let signedBy: string | null = null;
  if (o.key) {
    const keyPath = o.key;
    const key = loadPrivateKey(
      await readFile(keyPath).catch((cause: Error) => {
        throw new FaceedgeError('USAGE', `cannot read key ${keyPath}: ${cause.message}`, { cause });
      }),
      keyPath,
    );
    // the manifest's bytes as they are: the 64×64 package was checked by the verify stage, a head by its export
    const signature = signManifest(await readFile(join(staging, MANIFEST_FILE)), key);
    await writeFile(join(staging, SIGNATURE_FILE), signature);
    signedBy = (JSON.parse(signature) as { key_id: string }).key_id;
  }
  const previous = `${resolve(o.out)}.previous-${process.pid}`;
  if (existsSync(o.out)) await rename(o.out, previous);
  await rename(staging, o.out);
  await rm(previous, { recursive: true, force: true });
  return signedBy;
}
