/**
 * Cost per face of the passive anti-spoofing check through faceedge's TFLite runtime (XNNPACK, one thread):
 * the crop (src/liveness/anti-spoof-crop.ts) and the network's invoke, timed separately over `--n` faces of
 * a real photo after a warm-up, interleaved with the short-range detector on the same photo so that the
 * ratio between them holds on a shared machine whose speed moves.
 *
 *   tsx scripts/liveness/anti-spoof-cost.ts [--model models/liveness/<id>_float32.tflite] [--n 300]
 *
 * Prints one JSON line: {model, n, crop_ms, invoke_ms, detect_ms (each {p50, p99}), invoke_to_detect_p50, delegate}.
 */
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { antiSpoofCrop } from '../../src/liveness/anti-spoof-crop.js';
import { AntiSpoofNetwork } from '../../src/liveness/anti-spoof-network.js';
import { decodeImage } from '../../src/capture/decode-image.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const modelPath = flag('--model', 'models/liveness/minifasnet-v1se-80_float32.tflite');
const n = Number(flag('--n', '300'));

const percentile = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const image = await decodeImage(await readFile('test/fixtures/scenes/astronaut.png'), 'astronaut.png');
const detector = await FaceDetector.create();
const [face] = await detector.detect(image);
const network = await AntiSpoofNetwork.create({ modelPath });
const cropMs: number[] = [];
const invokeMs: number[] = [];
const detectMs: number[] = [];
for (let i = 0; i < n + 20; i++) {
  const t0 = performance.now();
  const crop = antiSpoofCrop(image, face.box, network.crop);
  const t1 = performance.now();
  await network.scoreCrop(crop);
  const t2 = performance.now();
  await detector.detect(image);
  const t3 = performance.now();
  if (i >= 20) {
    cropMs.push(t1 - t0);
    invokeMs.push(t2 - t1);
    detectMs.push(t3 - t2);
  }
}
await network.close();
await detector.close();
const round = (x: number) => Math.round(x * 1000) / 1000;
console.log(
  JSON.stringify({
    model: network.manifest.id,
    n,
    crop_ms: { p50: round(percentile(cropMs, 50)), p99: round(percentile(cropMs, 99)) },
    invoke_ms: { p50: round(percentile(invokeMs, 50)), p99: round(percentile(invokeMs, 99)) },
    detect_ms: { p50: round(percentile(detectMs, 50)), p99: round(percentile(detectMs, 99)) },
    invoke_to_detect_p50: round(percentile(invokeMs, 50) / percentile(detectMs, 50)),
    delegate: network.delegate,
  }),
);
