/**
 * The full-precision twin of `faceedge classify --json`, for the arm64 parity test: every face of each
 * image with both BlazeFace models (short and full range), its raw box, keypoints and detector score, and
 * the classifier's raw probability and logit — nothing rounded — plus which delegate each interpreter
 * really runs on. The CLI rounds (0.1 px, 4 decimals), which would hide differences below 1e-4; this
 * prints what the same code paths compute, so two CPUs can be compared within 1e-6.
 *
 *   node dist/test/arm64/raw-classify.js <image…>     (one JSON object on stdout)
 *
 * It is compiled with the rest of the project (`tsc`) and run from `dist/` by the host's Node and by
 * the arm64 Node under QEMU (test/arm64/arm64-parity.test.ts).
 */
import { readFile } from 'node:fs/promises';
import { openClassifier } from '../../src/inference/shipped-model.js';
import { alignFace } from '../../src/vision/align-face.js';
import { decodeImage } from '../../src/capture/decode-image.js';
import { FaceDetector, type DetectorModel } from '../../src/inference/face-detector.js';

const DETECTOR_MODELS: readonly DetectorModel[] = ['short', 'full'];

async function main(files: readonly string[]): Promise<void> {
  const classifier = await openClassifier();
  const detectors = await Promise.all(DETECTOR_MODELS.map((model) => FaceDetector.create({ model })));
  try {
    const images = [];
    for (const file of files) {
      const image = await decodeImage(await readFile(file), file);
      const byDetector: Record<string, unknown[]> = {};
      for (const detector of detectors) {
        const faces = [];
        for (const face of await detector.detect(image)) {
          const c = await classifier.classify(alignFace(image, face, classifier.alignment));
          faces.push({
            box: face.box,
            keypoints: face.keypoints,
            score: face.score,
            class: c.label,
            probability: c.probability,
            logit: c.logit,
          });
        }
        byDetector[detector.model] = faces;
      }
      images.push({ file, width: image.width, height: image.height, faces: byDetector });
    }
    const delegates = {
      classifier: classifier.delegate,
      ...Object.fromEntries(detectors.map((d) => [`detector_${d.model}`, d.delegate])),
    };
    process.stdout.write(`${JSON.stringify({ arch: process.arch, node: process.version, delegates, images })}\n`);
  } finally {
    await Promise.all([classifier.close(), ...detectors.map((d) => d.close())]);
  }
}

await main(process.argv.slice(2));
