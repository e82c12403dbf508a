import { Option, type Command } from 'commander';
import { Progress } from '../../dataset/progress.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';
import { FaceEmbedder } from '../../inference/face-embedder.js';
import { shippedEmbedderPath } from '../../inference/shipped-model.js';
import { readGroupLabels } from '../../recognition/verify-groups.js';
import { verifyPairs } from '../../recognition/verify-pairs.js';

/** Defined with the other shipped models (src/inference/shipped-model.ts); re-exported for its callers. */
export { shippedEmbedderPath };

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
    .option('--groups <labels.csv>', 'path,<label> per photo (e.g. image-gender.csv): figures per group as well')
    .addOption(
      new Option(
        '--flip <mode>',
        'embed each face with its mirror image too (default: the manifest’s test_time_flip)',
      ).choices(['on', 'off']),
    )
    .option('--json', 'print the result as one JSON object')
    .action(
      async (
        csv: string,
        opts: {
          model: string;
          detector: DetectorModel;
          concurrency: string;
          groups?: string;
          flip?: 'on' | 'off';
          json?: boolean;
        },
      ) => {
        const groups = opts.groups ? await readGroupLabels(opts.groups) : undefined;
        const detector = await FaceDetector.create({ model: opts.detector });
        const flipAverage = opts.flip === undefined ? undefined : opts.flip === 'on';
        const embedder = await FaceEmbedder.create({ modelPath: opts.model, flipAverage }).catch(async (err) => {
          await detector.close();
          throw err;
        });
        try {
          let progress: Progress | null = null;
          const result = await verifyPairs(csv, {
            detector,
            embedder,
            concurrency: Number(opts.concurrency),
            groups,
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
          const t = result.threshold_at_far;
          console.log(`threshold for  FAR 1 % ${t['0.01'].toFixed(4)}   FAR 0.1 % ${t['0.001'].toFixed(4)}`);
          const at = result.at_model_threshold;
          console.log(`at the model's threshold: TAR ${pct(at.tar)}, FAR ${pct(at.far)}`);
          for (const [group, g] of Object.entries(result.groups ?? {})) {
            console.log(
              `  ${group.padEnd(12)} ${String(g.pairs).padStart(5)} pairs  accuracy ${pct(g.accuracy)}  TAR ${pct(g.tar)}  FAR ${pct(g.far)}`,
            );
          }
        } finally {
          await embedder.close();
          await detector.close();
        }
      },
    );
}
