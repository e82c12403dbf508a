/**
 * Builds a gallery from an open-set protocol CSV (`path,identity,role` with roles enrol / probe /
 * stranger, paths relative to the CSV), through the same code as `faceedge faces add`, and writes the
 * probe and stranger photo lists beside it, for `faceedge faces identify --json` to score:
 *
 *   tsx scripts/gallery-open-set.ts <protocol.csv> <out-dir> --model <embedder.tflite>
 *
 * Each identity is enrolled under its identity number as the name.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { FaceDetector } from '../src/inference/face-detector.js';
import { FaceEmbedder } from '../src/inference/face-embedder.js';
import { mapInOrder } from '../src/recognition/gallery-identify.js';
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
for await (const [row, face] of mapInOrder(
  enrol,
  2,
  async (r) => [r, await photoFace(r.path, { detector, embedder }, { purpose: 'enrol' })] as const,
)) {
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
await Promise.all([detector.close(), embedder.close()]);
