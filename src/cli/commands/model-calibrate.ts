/**
 * `faceedge model calibrate <model> <val dirs...>`: chooses the model's decision threshold on
 * validation folders through the board's whole path (detect → central face → align → classify), each
 * folder counting equally, and with `--write` stores it in the model's manifest.json with how it was
 * chosen. Test folders must not be passed: the threshold is part of the model.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { FaceedgeError } from '../../errors.js';
import { chooseThreshold, type ThresholdCriterion } from '../../evaluation/choose-threshold.js';
import { evaluateFolder } from '../../evaluation/evaluate-folder.js';
import { manifestPathFor } from '../../inference/model-manifest.js';
import { openClassifier } from '../../inference/shipped-model.js';
import { FaceDetector } from '../../inference/face-detector.js';

interface CalibrateFlags {
  readonly criterion: ThresholdCriterion;
  readonly write?: boolean;
}

/** Registers `calibrate` under the `model` command group. */
export function registerModelCalibrateCommand(model: Command): void {
  model
    .command('calibrate')
    .description(
      'choose the decision threshold of a two-label model on validation folders (<label>/*.jpg), each counting equally; --write stores it in manifest.json',
    )
    .argument('<model>', 'classifier .tflite with its manifest.json next to it')
    .argument('<dirs...>', 'validation folders (never the test folders)')
    .addOption(
      new Option('--criterion <name>', 'best mean balanced accuracy, or the two recalls closest')
        .choices(['balanced', 'equal-recall'])
        .default('balanced'),
    )
    .option('--write', 'store the threshold and its provenance in the manifest')
    .action(async (modelPath: string, dirs: string[], flags: CalibrateFlags) => {
      const classifier = await openClassifier(modelPath);
      if (classifier.labels.length > 2) {
        const labels = classifier.labels.join(', ');
        await classifier.close();
        throw new FaceedgeError(
          'USAGE',
          `${modelPath} has ${classifier.labels.length} labels (${labels}): a decision threshold is for two labels only`,
          {
            hint: 'a model of three or more labels is calibrated at export (faceedge_train.export fits its temperature and unsure_floor on validation); see train/README.md "Exporting three or more classes"',
          },
        );
      }
      const samples = [];
      try {
        const detector = await FaceDetector.create({ model: 'short' });
        try {
          for (const dir of dirs) {
            const { images, positiveLabel } = await evaluateFolder({ root: dir, detector, classifier });
            for (const o of images) {
              if (o.status === 'classified')
                samples.push({
                  probability: o.probability as number,
                  positive: o.truth === positiveLabel,
                  set: resolve(dir),
                });
            }
          }
        } finally {
          await detector.close();
        }
      } finally {
        await classifier.close();
      }
      let choice;
      try {
        choice = chooseThreshold(samples, flags.criterion);
      } catch (err) {
        throw new FaceedgeError('DATASET_INVALID', (err as Error).message, {
          hint: 'pass validation folders with both classes',
        });
      }
      const calibration = {
        criterion: choice.criterion,
        threshold: choice.threshold,
        flip_average: classifier.flipAverage,
        chosen: new Date().toISOString(),
        balanced_accuracy: choice.balanced_accuracy,
        balanced_accuracy_at_half: choice.balanced_accuracy_at_half,
        sets: choice.sets,
        sets_at_half: choice.sets_at_half,
      };
      console.log(JSON.stringify(calibration, null, 2));
      if (flags.write) {
        const path = manifestPathFor(resolve(modelPath));
        const manifest = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
        await writeFile(
          path,
          `${JSON.stringify({ ...manifest, threshold: choice.threshold, threshold_calibration: calibration }, null, 2)}\n`,
        );
        console.error(`wrote threshold ${choice.threshold.toFixed(4)} to ${path}`);
      }
    });
}
