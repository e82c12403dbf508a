import { Option, type Command } from 'commander';
import { prepareDataset } from '../../dataset/prepare-dataset.js';
import { FaceedgeError } from '../../errors.js';
import { DEFAULT_ALIGNMENT, type CropPadding } from '../../vision/align-face.js';
import type { PrimaryFacePolicy } from '../../vision/primary-face.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';

export function registerDatasetCommands(program: Command): void {
  const dataset = program.command('dataset').description('prepare training data');
  dataset
    .command('prepare')
    .description(
      'detect + align every face of a labeled folder ({train,val,test}/<class>/*.jpg) into crops (64x64 unless --size) and a manifest',
    )
    .argument('<src>', 'labeled image folder')
    .argument('<out>', 'output folder for crops and manifest.json')
    .option('--detector <model>', 'short | full', 'short')
    .option('--concurrency <n>', 'images in flight', '2')
    .option('--size <px>', 'crop side in pixels (the model input)', String(DEFAULT_ALIGNMENT.size))
    .option('--side <eye-distances>', 'crop side in eye distances', String(DEFAULT_ALIGNMENT.sideInEyeDistances))
    .option(
      '--centre-below <eye-distances>',
      'crop centre below the eye midpoint, in eye distances',
      String(DEFAULT_ALIGNMENT.centreBelowEyes),
    )
    .addOption(
      new Option('--padding <mode>', 'what fills a crop where it reaches outside the photo')
        .choices(['mirror', 'edge'])
        .default(DEFAULT_ALIGNMENT.padding),
    )
    .addOption(
      new Option('--faces <policy>', 'a photo with two nearly equal faces: skip it (strict) or take the central one')
        .choices(['strict', 'central'])
        .default('strict'),
    )
    .action(
      async (
        src: string,
        out: string,
        opts: {
          detector: DetectorModel;
          concurrency: string;
          size: string;
          side: string;
          centreBelow: string;
          padding: CropPadding;
          faces: PrimaryFacePolicy;
        },
      ) => {
        const alignment = {
          size: Number(opts.size),
          sideInEyeDistances: Number(opts.side),
          centreBelowEyes: Number(opts.centreBelow),
          padding: opts.padding,
        };
        if (!(alignment.sideInEyeDistances > 0) || !Number.isFinite(alignment.centreBelowEyes)) {
          throw new FaceedgeError(
            'USAGE',
            `--side must be > 0 and --centre-below a number (got ${opts.side}, ${opts.centreBelow})`,
          );
        }
        if (!Number.isInteger(alignment.size) || alignment.size < 8 || alignment.size > 512) {
          throw new FaceedgeError('USAGE', `--size must be a whole number of pixels in 8..512 (got ${opts.size})`);
        }
        const detector = await FaceDetector.create({ model: opts.detector });
        try {
          const manifest = await prepareDataset({
            source: src,
            output: out,
            detector,
            alignment,
            concurrency: Number(opts.concurrency),
            faces: opts.faces,
          });
          const reasons: Record<string, number> = {};
          for (const s of manifest.skipped) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
          console.log(
            JSON.stringify({
              written: manifest.written,
              skipped: manifest.skipped.length,
              reasons,
              counts: manifest.counts,
              mean_outside_fraction: manifest.mean_outside_fraction,
            }),
          );
        } finally {
          await detector.close();
        }
      },
    );
}
