/**
 * Builds a gallery from an open-set protocol CSV (`path,identity,role` with roles enrol / probe /
 * stranger, paths relative to the CSV), through the same code as `faceedge faces add`, writes the probe and
 * stranger photo lists beside it (for `faceedge faces identify --json`), and prints the open-set figures for
 * a sweep of thresholds and margins (right name among probes, wrong name among probes, strangers accepted),
 * and the enrolment photos' sharpness percentiles:
 *
 *   tsx scripts/gallery-open-set.ts <protocol.csv> <out-dir> --model <embedder.tflite>
 *
 * Each identity is enrolled under its identity number as the name.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FaceDetector } from '../src/inference/face-detector.js';
import { FaceEmbedder } from '../src/inference/face-embedder.js';
import { mapInOrder, matchEmbedding } from '../src/recognition/gallery-identify.js';
import { photoFace } from '../src/recognition/gallery-photo.js';
import { GalleryStore } from '../src/recognition/gallery-store.js';

const [csv, out, , model] = process.argv.slice(2);
const base = dirname(resolve(csv));
const rows = (await readFile(csv, 'utf8'))
  .trim()
  .split('\n')
  .slice(1)
  .map((l) => {
    const [path, identity, role] = l.trim().split(',');
    return { path: join(base, path), identity, role };
  });
const embedder = await FaceEmbedder.create({ modelPath: model });
const detector = await FaceDetector.create({ model: 'short' });
const store = await GalleryStore.open({
  path: join(out, 'open-set.gallery'),
  key: null,
  model: { id: embedder.id, dimensions: embedder.dimensions },
});
const enrol = rows.filter((r) => r.role === 'enrol');
const byIdentity = new Map<string, Float32Array[]>();
const skipped = new Map<string, number>();
const sharpness: number[] = [];
for await (const [row, face] of mapInOrder(
  enrol,
  2,
  async (r) => [r, await photoFace(r.path, { detector, embedder }, { purpose: 'enrol' })] as const,
)) {
  if (face.quality) sharpness.push(face.quality.sharpness);
  if (face.usable) byIdentity.set(row.identity, [...(byIdentity.get(row.identity) ?? []), face.embedding]);
  else
    skipped.set(
      face.reason.replace(/\(.*\)/, '').trim(),
      (skipped.get(face.reason.replace(/\(.*\)/, '').trim()) ?? 0) + 1,
    );
}
for (const [identity, embeddings] of byIdentity) await store.enrol(`id${identity}`, embeddings);
await writeFile(
  join(out, 'probes.txt'),
  rows
    .filter((r) => r.role === 'probe')
    .map((r) => `${r.path},id${r.identity}`)
    .join('\n'),
);
await writeFile(
  join(out, 'strangers.txt'),
  rows
    .filter((r) => r.role === 'stranger')
    .map((r) => r.path)
    .join('\n'),
);
console.log(
  JSON.stringify({
    enrol_photos: enrol.length,
    people: byIdentity.size,
    identities: new Set(enrol.map((r) => r.identity)).size,
    skipped: Object.fromEntries(skipped),
  }),
);
sharpness.sort((a, b) => a - b);
const pct = (q: number) => sharpness[Math.floor(q * (sharpness.length - 1))];
console.log(JSON.stringify({ sharpness: { p1: pct(0.01), p5: pct(0.05), p50: pct(0.5), p95: pct(0.95) } }));

// The sweep: the nearest person and the runner-up for every probe and stranger, then each operating point.
const probes = rows.filter((r) => r.role !== 'enrol');
const scored: { truth: string | null; similarity: number; second: number; nearest: string }[] = [];
for await (const [row, face] of mapInOrder(
  probes,
  2,
  async (r) => [r, await photoFace(r.path, { detector, embedder }, { purpose: 'identify' })] as const,
)) {
  if (!face.usable) continue;
  const m = matchEmbedding(store.contents, face.embedding, { threshold: -1, margin: 0 });
  scored.push({
    truth: row.role === 'probe' ? `id${row.identity}` : null,
    similarity: m.similarity ?? -1,
    second: m.second_similarity ?? -1,
    nearest: m.nearest ?? '',
  });
}
const enrolled = scored.filter((s) => s.truth !== null);
const strangers = scored.filter((s) => s.truth === null);
console.log(
  `faces found: ${enrolled.length} of ${probes.filter((r) => r.role === 'probe').length} probes, ${strangers.length} of ${probes.filter((r) => r.role === 'stranger').length} strangers`,
);
console.log('threshold margin  right  wrong-name  strangers-accepted');
// A fixed grid, plus the threshold the embedder's manifest ships with (chosen on pairs for its stated FAR).
const shipped = Number(embedder.manifest.recognition.threshold);
const thresholds = [...new Set([0.9, 0.92, 0.93, 0.94, 0.95, 0.96, 0.97, 0.98, shipped])].sort((a, b) => a - b);
for (const threshold of thresholds) {
  for (const margin of [0, 0.01, 0.02, 0.03, 0.05]) {
    const named = (s: (typeof scored)[number]) => s.similarity >= threshold && s.similarity - s.second >= margin;
    const right = enrolled.filter((s) => named(s) && s.nearest === s.truth).length / enrolled.length;
    const wrong = enrolled.filter((s) => named(s) && s.nearest !== s.truth).length / enrolled.length;
    const accepted = strangers.filter(named).length / strangers.length;
    console.log(
      `${threshold.toFixed(3)}     ${margin.toFixed(2)}  ${(100 * right).toFixed(1)} %  ${(100 * wrong).toFixed(2)} %  ${(100 * accepted).toFixed(2)} %`,
    );
  }
}
await Promise.all([detector.close(), embedder.close()]);
