import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import type { DetectorModel } from '../../inference/face-detector.js';
import { shippedEmbedderPath } from '../../inference/shipped-model.js';
import { checkPairWith, runEmbeddingHeadPipeline } from '../../training/embedding-head-pipeline.js';
import { findPythonEngine } from '../../training/python-engine.js';
import { DEFAULT_QUALITY_GATE } from '../../training/quality-gate.js';
import { runTrainPipeline } from '../../training/train-pipeline.js';
import { EMBEDDING_HEAD_STAGES, TrainProgress } from '../../training/train-progress.js';
import { DEFAULT_ALIGNMENT } from '../../vision/align-face.js';

/** `faceedge model keygen`'s default private key, used to sign when present and no --key is given. */
const WORKSTATION_KEY = 'faceedge-model-signing.key.pem';

interface TrainFlags {
  out: string;
  name?: string;
  work?: string;
  python?: string;
  processes: string;
  epochs?: string;
  labels?: string;
  ordered?: boolean;
  device?: string;
  init?: string;
  threads?: string;
  engineArg: string[];
  seed: string;
  minPerLabel: string;
  detector: DetectorModel;
  key?: string;
  sign: boolean;
  overwrite?: boolean;
  minGain: string;
  maxInt8Drop: string;
  onEmbedding?: boolean;
  pairWith?: string;
}

/** Options of the 64×64 path that `--on-embedding` does not use: named, so a user is not silently ignored. */
const NOT_ON_EMBEDDING = ['init', 'processes', 'engineArg', 'device', 'minGain', 'maxInt8Drop', 'overwrite'] as const;

/**
 * Refuses a combination the command cannot honour, in one line: `--on-embedding` with an option of the
 * 64×64 path given on the command line, or `--pair-with` without `--on-embedding`.
 * `given(option)` says whether the user set it (not a default).
 */
export function checkTrainMode(f: TrainFlags, given: (option: string) => boolean): void {
  if (!f.onEmbedding) {
    if (f.pairWith !== undefined)
      throw new FaceedgeError('USAGE', '--pair-with needs --on-embedding (it pairs a head on the face embedding)');
    return;
  }
  const flag = (o: string) => `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const unused = NOT_ON_EMBEDDING.filter(given).map(flag);
  if (unused.length > 0)
    throw new FaceedgeError('USAGE', `--on-embedding does not use ${unused.join(', ')}`, {
      hint: 'a head on the face embedding trains in seconds on a CPU, from the embedder; drop those options',
    });
}

/** The `heads_folders train` options this command names itself. */
function headArgs(f: TrainFlags): string[] {
  const args: string[] = [];
  if (f.epochs !== undefined) args.push('--epochs', String(wholeNumber('--epochs', f.epochs, 1, 10_000)));
  if (f.labels !== undefined) args.push('--labels', f.labels);
  if (f.ordered) args.push('--ordered');
  if (f.threads !== undefined) args.push('--threads', String(wholeNumber('--threads', f.threads, 1, 1024)));
  return [...args, '--seed', String(wholeNumber('--seed', f.seed, 0, 2 ** 31 - 1))];
}

const collect = (value: string, previous: string[]) => [...previous, value];

function wholeNumber(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new FaceedgeError('USAGE', `${flag} must be a whole number in ${min}..${max} (got ${value})`);
  return n;
}

function fraction(flag: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > max)
    throw new FaceedgeError('USAGE', `${flag} must be a number in 0..${max} (got ${value})`);
  return n;
}

/** The engine options this command names itself; anything else goes through --engine-arg. */
function trainArgs(f: TrainFlags): string[] {
  const args: string[] = [];
  if (f.epochs !== undefined) args.push('--epochs', String(wholeNumber('--epochs', f.epochs, 1, 10_000)));
  if (f.labels !== undefined) args.push('--labels', f.labels);
  if (f.ordered) args.push('--ordered');
  if (f.device !== undefined) args.push('--device', f.device);
  if (f.threads !== undefined) args.push('--threads', String(wholeNumber('--threads', f.threads, 1, 1024)));
  args.push('--seed', String(wholeNumber('--seed', f.seed, 0, 2 ** 31 - 1)));
  return [...args, ...f.engineArg];
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description(
      'labelled photo folders (<dir>/<label>/* or <dir>/{train,val,test}/<label>/*, 2 to 50 labels) → a verified model package: split, prepare with the board’s detector, train, export to int8, verify, sign',
    )
    .argument('<dirs...>', 'labelled photo folders')
    .requiredOption('--out <dir>', 'model package folder to write (e.g. models/helmet)')
    .option('--name <id>', 'model id and file name prefix (default: the --out folder’s name)')
    .option('--work <dir>', 'where the stages keep their results, to skip and resume (default runs/<name>)')
    .option('--python <path>', 'Python with torch (default: $FACEEDGE_PYTHON, train/.venv, /usr/bin/python3, python3)')
    .option('--processes <n>', 'training processes under torch.distributed.run (one per GPU)', '1')
    .option('--epochs <n>', 'training epochs (engine default 30)')
    .option('--labels <a,b,c>', 'the output order of the labels (default: sorted folder names)')
    .option('--ordered', 'the labels are a scale (age bands): also report predictions off by more than one')
    .option('--device <d>', 'auto | cpu | cuda | cuda:N (default auto)')
    .option('--init <model>', 'start from a checkpoint (.pt) or a float32 .tflite model’s features')
    .option('--threads <n>', 'torch CPU threads')
    .option('--engine-arg <arg>', 'one more option for faceedge_train.train, repeatable', collect, [])
    .option('--seed <n>', 'seed of the split and the training', '0')
    .option('--min-per-label <n>', 'usable photos a label needs', '20')
    .addOption(
      new Option('--detector <model>', 'face detector for the crops').choices(['short', 'full']).default('short'),
    )
    .option('--key <pem>', `sign with this ed25519 key (default ./${WORKSTATION_KEY} when present)`)
    .option('--no-sign', 'leave the package unsigned even if a key is present')
    .option('--overwrite', 'start the training afresh when the work folder holds a run with other settings')
    .option(
      '--min-gain <fraction>',
      'refuse a model whose test macro recall is not this far above chance',
      String(DEFAULT_QUALITY_GATE.minGainOverChance),
    )
    .option(
      '--max-int8-drop <points>',
      'refuse a model whose int8 file loses more accuracy than this',
      String(DEFAULT_QUALITY_GATE.maxInt8DropPoints),
    )
    .option(
      '--on-embedding',
      'train a small head on the shipped face embedding instead (seconds on a CPU; runs where recognition runs)',
    )
    .option(
      '--pair-with <manifest>',
      'with --on-embedding: the 64×64 model manifest the head is shipped with (same labels): fit and report the pair',
    )
    .action((dirs: string[], f: TrainFlags, command: Command) => train(dirs, f, command));
}

/** The command's action: checks, then one of the two pipelines, then how to install what it wrote. */
async function train(dirs: string[], f: TrainFlags, command: Command): Promise<void> {
  checkTrainMode(f, (option) => command.getOptionValueSource(option) === 'cli');
  if (f.pairWith !== undefined) checkPairWith(f.pairWith);
  for (const dir of dirs)
    if (!existsSync(dir))
      throw new FaceedgeError('USAGE', `${dir}: no such folder`, { hint: 'give labelled photo folders' });
  const name = f.name ?? basename(resolve(f.out));
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name))
    throw new FaceedgeError('USAGE', `model name ${JSON.stringify(name)} is not a plain file name`, {
      hint: 'letters, digits, ".", "_" and "-", at most 64 characters (--name)',
    });
  const key = f.sign ? (f.key ?? (existsSync(WORKSTATION_KEY) ? WORKSTATION_KEY : null)) : null;
  const progress = new TrainProgress(
    { write: (text) => process.stderr.write(text), interactive: process.stderr.isTTY === true },
    f.onEmbedding ? EMBEDDING_HEAD_STAGES : undefined,
  );
  const engine = findPythonEngine(f.python);
  progress.line(`engine: ${engine.python}, torch ${engine.torch}${engine.cuda ? ', CUDA' : ', CPU only'}`);
  const common = {
    inputs: dirs,
    out: f.out,
    name,
    work: f.work ?? join('runs', name),
    engine,
    seed: wholeNumber('--seed', f.seed, 0, 2 ** 31 - 1),
    minPerLabel: wholeNumber('--min-per-label', f.minPerLabel, 1, 1_000_000),
    detector: f.detector,
    key,
    progress,
  };
  const result = f.onEmbedding
    ? await runEmbeddingHeadPipeline({
        ...common,
        embedderPath: shippedEmbedderPath(),
        pairWith: f.pairWith ?? null,
        headArgs: headArgs(f),
        ordered: f.ordered === true,
      })
    : await runTrainPipeline({
        ...common,
        trainArgs: trainArgs(f),
        init: f.init ?? null,
        processes: wholeNumber('--processes', f.processes, 1, 64),
        alignment: DEFAULT_ALIGNMENT,
        overwrite: f.overwrite === true,
        gate: {
          minGainOverChance: fraction('--min-gain', f.minGain, 1),
          maxInt8DropPoints: fraction('--max-int8-drop', f.maxInt8Drop, 100),
        },
        progress,
      });
  if (result.outcome === 'stopped') {
    progress.line(`stopped (${result.signal}); run the same command again to resume where it stopped`);
    process.exitCode = result.signal === 'SIGINT' ? 130 : 143;
    return;
  }
  progress.line(
    `model ${name}: ${result.out} (${result.signedBy ? `signed by key ${result.signedBy}` : 'unsigned: the boards refuse it until it is signed'}), report ${result.reportPath}`,
  );
  if (f.onEmbedding && f.pairWith !== undefined) {
    // The pair travels as one package (src/model-push/push-payload.ts): the image model and this head.
    const image = dirname(f.pairWith);
    console.log(
      [
        `push the pair to one board:  faceedge model push ${image} --head ${result.out} --mqtt <url> --device <id> --name <classifier name>`,
        `or roll it out:              faceedge fleet push ${image} --head ${result.out} --name <classifier name> --tag <tag>`,
        `(a board already serving ${image}'s model takes the head alone: faceedge model push ${result.out} --mqtt <url> --device <id> --name <classifier name>)`,
      ].join('\n'),
    );
    return;
  }
  if (f.onEmbedding) {
    // A head without a pair's calibration (--pair-with) is not served by the daemon, nor pushed.
    console.log(
      `a head runs only as a pair with its image model: train it again with --pair-with <that model's manifest.json> to push it`,
    );
    return;
  }
  console.log(
    [
      'push it to one board:  faceedge model push ' + result.out + ' <user@board>   (or --mqtt <url> --device <id>)',
      'or roll it out:        faceedge fleet push ' + result.out + ' --tag <tag>',
    ].join('\n'),
  );
}
