/**
 * Face embeddings with labels, for training small heads on the face embedding (issue 24 §4), through the
 * board's own path: decode → BlazeFace short-range → the photo's primary face → the manifest's alignment →
 * the shipped int8 embedder (test-time flip as its manifest says). The same detected face is also classified
 * by the 64×64 classifiers given with --classifier, so heads and those models are scored on the same faces,
 * decided in the same run.
 *
 *   npx tsx scripts/heads/embed-faces.ts --source utkface=data/utkface-age --source faces-dev=…/faces-dev \
 *       --classifier age=<age_int8.tflite> --classifier gender=models/faceedge-gender_int8.tflite \
 *       --out data/heads/embeddings.jsonl
 *
 * Each source is a `{train,val,test}/<label>/*` folder, optionally with a `labels.csv` (`path,label,...`)
 * whose other columns (age, gender, race, ...) travel into the records. One JSON line per photo:
 * `{source, split, label, path, status, groups, embedding?, models?: {<name>: {label, probabilities}}}`;
 * `--splits train` limits the splits, `--every N` keeps every N-th photo of the listing (labels stay in
 * proportion).
 * status is `ok`, `no face` or `unreadable`. The output is appended to and resumed: photos already written
 * are skipped, so a stopped run continues where it stopped. Embeddings are biometric data: the file stays
 * under data/ (never committed) and nothing of it is logged.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readImageFile } from '../../src/capture/read-image-file.js';
import { shippedEmbedderPath } from '../../src/cli/commands/faces-verify.js';
import { listLabeledImages, type LabeledImage } from '../../src/dataset/labeled-folder.js';
import { FaceedgeError, isFaceedgeError } from '../../src/errors.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { alignFace } from '../../src/vision/align-face.js';
import { decodeForDetection, detectFaces, fullResolutionImage } from '../../src/vision/decode-for-detection.js';
import { primaryFace } from '../../src/vision/primary-face.js';

/** `name=path` pairs of a repeated option. */
function namedPaths(values: readonly string[] | undefined, option: string): [string, string][] {
  return (values ?? []).map((v) => {
    const at = v.indexOf('=');
    if (at < 1) throw new FaceedgeError('USAGE', `--${option} takes name=path, got "${v}"`);
    return [v.slice(0, at), resolve(v.slice(at + 1))];
  });
}

/** A labels.csv's extra columns per relative path (`path,label,...`); empty when the folder has none. */
async function readGroups(root: string): Promise<Map<string, Record<string, string>>> {
  const csv = join(root, 'labels.csv');
  const groups = new Map<string, Record<string, string>>();
  if (!existsSync(csv)) return groups;
  const [header, ...lines] = (await readFile(csv, 'utf8')).split(/\r?\n/).filter((l) => l.trim());
  const columns = header.split(',');
  const pathAt = columns.indexOf('path');
  if (pathAt < 0) throw new FaceedgeError('DATASET_INVALID', `${csv} has no path column`);
  for (const line of lines) {
    const cells = line.split(',');
    const extra: Record<string, string> = {};
    columns.forEach((c, i) => {
      if (c !== 'path' && c !== 'label' && c !== 'source_id') extra[c] = cells[i] ?? '';
    });
    groups.set(cells[pathAt], extra);
  }
  return groups;
}

/** Relative paths already in the output, per source, so a resumed run skips them. */
async function alreadyDone(out: string): Promise<Set<string>> {
  if (!existsSync(out)) return new Set();
  const done = new Set<string>();
  for (const line of (await readFile(out, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as { source: string; path: string };
      done.add(`${r.source}\t${r.path}`);
    } catch {
      // a line cut short by a stop mid-write: that photo is simply done again
    }
  }
  return done;
}

const { values } = parseArgs({
  options: {
    source: { type: 'string', multiple: true },
    classifier: { type: 'string', multiple: true },
    embedder: { type: 'string' },
    out: { type: 'string' },
    splits: { type: 'string' },
    every: { type: 'string' },
  },
});
const sources = namedPaths(values.source, 'source');
const classifierPaths = namedPaths(values.classifier, 'classifier');
if (sources.length === 0 || !values.out) {
  throw new FaceedgeError('USAGE', 'give at least one --source name=dir and --out file.jsonl');
}
const out = resolve(values.out);
const splits = new Set((values.splits ?? 'train,val,test').split(','));
// Every n-th photo of each label folder (a deterministic spread), to bound the time of a large source.
const every = Number(values.every ?? '1');
if (!Number.isInteger(every) || every < 1) throw new FaceedgeError('USAGE', `--every must be a positive integer`);

const detector = await FaceDetector.create({ model: 'short' });
const embedder = await FaceEmbedder.create({ modelPath: values.embedder ?? shippedEmbedderPath() });
const classifiers = await Promise.all(
  classifierPaths.map(async ([name, modelPath]) => [name, await FaceClassifier.create({ modelPath })] as const),
);
const done = await alreadyDone(out);
await mkdir(dirname(out), { recursive: true });
const sink = createWriteStream(out, { flags: 'a' });

/** One photo through the board's path: its record without the source fields. */
async function embedPhoto(image: LabeledImage): Promise<Record<string, unknown>> {
  let bytes: Buffer;
  try {
    bytes = await readImageFile(image.path);
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return { status: 'unreadable' };
  }
  let decoded;
  try {
    decoded = await decodeForDetection(bytes, image.relative, { inputSize: detector.inputSize });
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return { status: 'unreadable' };
  }
  const pick = primaryFace(await detectFaces(detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
  if (!pick.face) return { status: 'no face' };
  const full = await fullResolutionImage(decoded);
  const embedding = embedder.embedCropSync(embedder.crop(full, pick.face));
  const models: Record<string, { label: string; probabilities: number[] }> = {};
  for (const [name, classifier] of classifiers) {
    const result = classifier.classifySync(alignFace(full, pick.face, classifier.alignment));
    models[name] = { label: result.label, probabilities: result.probabilities.map((p) => +p.toFixed(6)) };
  }
  return { status: 'ok', embedding: Array.from(embedding, (v) => +v.toFixed(6)), models };
}

const started = Date.now();
let count = 0;
for (const [source, root] of sources) {
  const groups = await readGroups(root);
  const images = (await listLabeledImages(root)).filter((i, k) => splits.has(i.split) && k % every === 0);
  for (const image of images) {
    if (done.has(`${source}\t${image.relative}`)) continue;
    const record = await embedPhoto(image);
    const line = { source, split: image.split, label: image.label, path: image.relative, ...record };
    const extra = groups.get(image.relative);
    if (extra) Object.assign(line, { groups: extra });
    if (!sink.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((r) => sink.once('drain', () => r()));
    count++;
    if (count % 500 === 0) {
      const rate = count / ((Date.now() - started) / 1000);
      console.log(`${source}: ${count} photos this run, ${rate.toFixed(1)} photos/s`);
    }
  }
}
await new Promise<void>((r) => sink.end(r));
await embedder.close();
await detector.close();
for (const [, c] of classifiers) await c.close();
console.log(`done: ${count} photos written to ${out}`);
