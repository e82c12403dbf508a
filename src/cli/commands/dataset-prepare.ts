import type { Command } from 'commander';
import { prepareDataset } from '../../dataset/prepare-dataset.js';
import { FaceDetector, type DetectorModel } from '../../vision/face-detector.js';

export function registerDatasetCommands(program: Command): void {
  const dataset = program.command('dataset').description('prepare training data');
  dataset
    .command('prepare')
    .description('detect + align every face of a labeled folder ({train,val,test}/<class>/*.jpg) into 64x64 crops and a manifest')
    .argument('<src>', 'labeled image folder')
    .argument('<out>', 'output folder for crops and manifest.json')
    .option('--detector <model>', 'short | full', 'short')
    .option('--concurrency <n>', 'images in flight', '2')
    .action(async (src: string, out: string, opts: { detector: DetectorModel; concurrency: string }) => {
      const detector = await FaceDetector.create({ model: opts.detector });
      try {
        const manifest = await prepareDataset({ source: src, output: out, detector, concurrency: Number(opts.concurrency) });
        const reasons: Record<string, number> = {};
        for (const s of manifest.skipped) reasons[s.reason] = (reasons[s.reason] ?? 0) + 1;
        console.log(JSON.stringify({ written: manifest.written, skipped: manifest.skipped.length, reasons, counts: manifest.counts }));
      } finally {
        await detector.close();
      }
    });
}
