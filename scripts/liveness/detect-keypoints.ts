/**
 * Measurement tool for the liveness work (models/liveness/README.md): runs the daemon's own BlazeFace detector
 * over still images and prints one JSON line per image with every face's box, six keypoints and score, in
 * source pixels. The Python side crops from these boxes (the same detections the board would have) and the
 * temporal score reads the keypoint tracks.
 *
 *   tsx scripts/liveness/detect-keypoints.ts [--model short|full] <image|folder>… > detections.jsonl
 *
 * Folders are read in name order (ffmpeg's numbered frames stay in sequence). An unreadable image prints
 * `{file, error}` and the run goes on.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FaceDetector, type DetectorModel } from '../../src/inference/face-detector.js';
import { decodeImage } from '../../src/capture/decode-image.js';

const IMAGE = /\.(png|jpe?g|webp|bmp)$/i;

async function expand(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) {
      const names = (await readdir(path)).filter((n) => IMAGE.test(n)).sort();
      files.push(...names.map((n) => join(path, n)));
    } else files.push(path);
  }
  return files;
}

async function main(argv: string[]): Promise<void> {
  let model: DetectorModel = 'short';
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--model') model = argv[++i] as DetectorModel;
    else paths.push(argv[i]);
  }
  if (paths.length === 0 || (model !== 'short' && model !== 'full')) {
    process.stderr.write('usage: detect-keypoints.ts [--model short|full] <image|folder>…\n');
    process.exit(2);
  }
  const detector = await FaceDetector.create({ model });
  try {
    for (const file of await expand(paths)) {
      try {
        const image = await decodeImage(await readFile(file), file);
        const faces = await detector.detect(image);
        process.stdout.write(JSON.stringify({ file, width: image.width, height: image.height, faces }) + '\n');
      } catch (err) {
        process.stdout.write(JSON.stringify({ file, error: (err as Error).message }) + '\n');
      }
    }
  } finally {
    await detector.close();
  }
}

await main(process.argv.slice(2));
