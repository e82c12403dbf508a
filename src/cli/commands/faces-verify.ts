import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { Progress } from '../../dataset/progress.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';
import { FaceEmbedder } from '../../inference/face-embedder.js';
import { packageRoot } from '../../inference/shipped-model.js';
import { verifyPairs } from '../../recognition/verify-pairs.js';

/** The shipped face embedder: `models/face-embed/` at the package root (its own folder and manifest). */
export function shippedEmbedderPath(): string {
  return join(packageRoot(), 'models', 'face-embed', 'faceedge-face-embed_int8.tflite');
}

const pct = (v: number) => `${(100 * v).toFixed(2)} %`;

/** `faceedge faces verify <pairs.csv>`: one line of JSON with --json, else a short table. */
export function registerFacesVerifyCommand(program: Command): void {
  const faces =
    program.commands.find((c) => c.name() === 'faces') ??
    program.command('faces').description('known faces: embeddings');
  faces
    .command('verify')
    .description(
      'face-verification accuracy of the embedder over a pairs CSV (path_a,path_b,same[,fold]), full board path',
    )
    .argument('<pairs.csv>', 'pairs; paths relative to the CSV’s folder; with a fold column the accuracy is k-fold')
    .option('--model <path>', 'embedder .tflite (its manifest.json beside it)', shippedEmbedderPath())
    .addOption(new Option('--detector <model>', 'face detector').choices(['short', 'full']).default('short'))
    .option('--concurrency <n>', 'photos in flight', '2')
    .option('--json', 'print the result as one JSON object')
    .action(
      async (csv: string, opts: { model: string; detector: DetectorModel; concurrency: string; json?: boolean }) => {
        const detector = await FaceDetector.create({ model: opts.detector });
        const embedder = await FaceEmbedder.create({ modelPath: opts.model }).catch(async (err) => {
          await detector.close();
          throw err;
        });
        try {
          let progress: Progress | null = null;
          const result = await verifyPairs(csv, {
            detector,
            embedder,
            concurrency: Number(opts.concurrency),
            onImage: process.stderr.isTTY
              ? (done, total) => (done === 1 ? (progress = new Progress(total, 'verify')).tick() : progress?.tick())
              : undefined,
          });
          if (opts.json) {
            console.log(JSON.stringify(result));
            return;
          }
          console.log(
            `pairs          ${result.pairs} (missing faces ${result.missing_faces}, unreadable photos ${result.unreadable})`,
          );
          console.log(`accuracy       ${pct(result.accuracy)} ± ${pct(result.accuracy_std)}`);
          console.log(`AUC            ${result.auc.toFixed(4)}`);
          console.log(`TAR @ FAR 1 %  ${pct(result.tar_at_far['0.01'])}   @ 0.1 % ${pct(result.tar_at_far['0.001'])}`);
          console.log(
            `best threshold ${result.threshold.toFixed(4)}  (the model's: ${result.model.threshold} for FAR ${result.model.far})`,
          );
        } finally {
          await embedder.close();
          await detector.close();
        }
      },
    );
}
