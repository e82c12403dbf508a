/**
 * `faceedge classify <image…>`: every face of each image, detected, aligned and classified by the
 * same code the daemon runs. One image that cannot be read is reported on its own line and does
 * not stop the others; the command then fails as a whole (exit 1) once all have been tried.
 */
import { Option, type Command } from 'commander';
import { readImageFile } from '../../capture/read-image-file.js';
import { FaceedgeError, isFaceedgeError } from '../../errors.js';
import { classifyFaces, type ClassifiedFace } from '../../evaluation/classify-faces.js';
import { openClassifier } from '../../inference/shipped-model.js';
import { decodeForDetection } from '../../vision/decode-for-detection.js';
import { FaceDetector, type DetectorModel } from '../../inference/face-detector.js';
import { formatTable } from '../format-table.js';

interface ClassifyFlags {
  readonly json?: boolean;
  readonly model?: string;
  readonly detector: DetectorModel;
}

type ImageResult =
  | { readonly file: string; readonly faces: readonly ClassifiedFace[] }
  | {
      readonly file: string;
      readonly error: { readonly code: string; readonly message: string; readonly hint?: string };
    };

function tableRows(results: readonly ImageResult[]): string[][] {
  const rows = [['file', 'face', 'box x,y,w,h (px)', 'detection', 'p(class)', 'class']];
  for (const r of results) {
    if ('error' in r) {
      // Long text goes in the last column so it does not widen the others.
      rows.push([r.file, 'error', '', '', '', `${r.error.code}: ${r.error.message}`]);
    } else if (r.faces.length === 0) {
      rows.push([r.file, '-', '', '', '', 'no face']);
    } else {
      r.faces.forEach((f, i) => {
        const b = f.box;
        rows.push([
          r.file,
          String(i + 1),
          [b.x, b.y, b.width, b.height].map((v) => v.toFixed(0)).join(','),
          f.detection_score.toFixed(3),
          f.class_probability.toFixed(3),
          f.class,
        ]);
      });
    }
  }
  return rows;
}

export function registerClassifyCommand(program: Command): void {
  program
    .command('classify')
    .description('detect, align and classify every face of one or more images')
    .argument('<image...>', 'image files (JPEG, PNG, WebP, GIF first frame…)')
    .option(
      '--json',
      'one JSON object per image on stdout: {file, faces: [{box, detection_score, class, confidence, class_probability, probabilities}]} or {file, error} (README: "faceedge classify --json")',
    )
    .option(
      '--model <path>',
      'classifier .tflite with its manifest.json next to it (default: the shipped models/faceedge-gender_int8.tflite)',
    )
    .addOption(new Option('--detector <model>', 'BlazeFace model').choices(['short', 'full']).default('short'))
    .action(async (files: string[], flags: ClassifyFlags) => {
      const classifier = await openClassifier(flags.model);
      const detector = await FaceDetector.create({ model: flags.detector }).catch(async (err) => {
        await classifier.close();
        throw err;
      });
      const results: ImageResult[] = [];
      try {
        for (const file of files) {
          let result: ImageResult;
          try {
            const decoded = await decodeForDetection(await readImageFile(file), file, {
              inputSize: detector.inputSize,
            });
            result = { file, faces: await classifyFaces(decoded, detector, classifier) };
          } catch (err) {
            if (!isFaceedgeError(err)) throw err;
            result = { file, error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } };
          }
          results.push(result);
          if (flags.json) console.log(JSON.stringify(result));
        }
      } finally {
        await Promise.all([detector.close(), classifier.close()]);
      }
      if (!flags.json) console.log(formatTable(tableRows(results)));
      const failed = results.filter((r) => 'error' in r).length;
      if (failed > 0) {
        throw new FaceedgeError('IMAGE_UNREADABLE', `${failed} of ${results.length} image(s) could not be classified`);
      }
    });
}
