/**
 * Open-set identification figures of the shipped face embedder through the board's path (decode →
 * BlazeFace short-range → primary face → alignment → embedder, as `faces verify`):
 *
 *   npx tsx scripts/recognition/open-set.ts /work/data/recog/open-set.csv [--model <tflite>] [--thresholds a,b,…]
 *
 * open-set.csv (`path,identity,role`, role enrol | probe | stranger; built by build_pairs.py) enrols each
 * person's `enrol` photos and probes with their `probe` photo and with every stranger. A person's gallery
 * score is the best cosine over their enrolled photos ("best") or the cosine to the normalized mean of
 * their enrolled embeddings ("mean"); a probe is named after the highest-scoring person when that score is
 * ≥ the threshold, else unknown; the counts are given for each of --thresholds (default: the manifest's
 * threshold). Prints one JSON object.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { cosineSimilarity, FaceEmbedder, l2Normalize } from '../../src/inference/face-embedder.js';
import { shippedEmbedderPath } from '../../src/cli/commands/faces-verify.js';
import { mapWithLimit } from '../../src/concurrency/map-with-limit.js';
import { decodeForDetection, detectFaces, fullResolutionImage } from '../../src/vision/decode-for-detection.js';
import { primaryFace } from '../../src/vision/primary-face.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { model: { type: 'string' }, thresholds: { type: 'string' } },
});
const csvPath = positionals[0] ?? '/work/data/recog/open-set.csv';
const rows = (await readFile(csvPath, 'utf8'))
  .split(/\r?\n/)
  .slice(1)
  .filter((l) => l.trim())
  .map((l) => {
    const [path, identity, role] = l.split(',').map((c) => c.trim());
    return { path: resolve(dirname(csvPath), path), identity, role };
  });

const detector = await FaceDetector.create({ model: 'short' });
const embedder = await FaceEmbedder.create({ modelPath: values.model ?? shippedEmbedderPath() });
const thresholds = values.thresholds?.split(',').map(Number) ?? [embedder.threshold];
const embeddings = await mapWithLimit(rows, 2, async ({ path }) => {
  const decoded = await decodeForDetection(await readFile(path), path, { inputSize: detector.inputSize });
  const pick = primaryFace(await detectFaces(detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
  return pick.face ? embedder.embed(await fullResolutionImage(decoded), pick.face) : null;
});
await embedder.close();
await detector.close();

const enrolled = new Map<string, Float32Array[]>();
rows.forEach((r, i) => {
  const e = embeddings[i];
  if (r.role === 'enrol' && e) enrolled.set(r.identity, [...(enrolled.get(r.identity) ?? []), e]);
});
const means = new Map(
  [...enrolled].map(([id, es]) => [id, l2Normalize(es[0].map((_, k) => es.reduce((s, e) => s + e[k], 0)))]),
);
const scorers = {
  best: (e: Float32Array, id: string) => Math.max(...(enrolled.get(id) ?? []).map((g) => cosineSimilarity(e, g))),
  mean: (e: Float32Array, id: string) => cosineSimilarity(e, means.get(id) ?? new Float32Array(e.length)),
};
const result: Record<string, unknown> = { manifest_threshold: embedder.threshold, enrolled_people: enrolled.size };
for (const [name, score] of Object.entries(scorers)) {
  // each probe's best-matching enrolled person and that score, once; then the counts at each threshold
  const tops = rows.flatMap((r, i) => {
    if (r.role === 'enrol') return [];
    const e = embeddings[i];
    let top = '';
    let topScore = -Infinity;
    if (e) {
      for (const id of enrolled.keys()) {
        const s = score(e, id);
        if (s > topScore) [top, topScore] = [id, s];
      }
    }
    return [{ role: r.role, identity: r.identity, top, topScore }];
  });
  result[name] = thresholds.map((threshold) => {
    const counts = { threshold, probes: 0, right_name: 0, wrong_name: 0, unknown: 0, strangers: 0, strangers_named: 0 };
    for (const t of tops) {
      const named = t.topScore >= threshold;
      if (t.role === 'stranger') {
        counts.strangers++;
        counts.strangers_named += named ? 1 : 0;
        continue;
      }
      counts.probes++;
      if (!named) counts.unknown++;
      else if (t.top === t.identity) counts.right_name++;
      else counts.wrong_name++;
    }
    return counts;
  });
}
console.log(JSON.stringify(result));
