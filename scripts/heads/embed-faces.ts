/**
 * Face embeddings with labels, for training small heads on the face embedding (issue 24 §4), through the
 * board's own path (src/training/embed-labelled-faces.ts, which `faceedge train --on-embedding` uses too): decode → BlazeFace short-range → the photo's primary face → the manifest's alignment →
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
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { shippedEmbedderPath } from '../../src/cli/commands/faces-verify.js';
import { FaceedgeError } from '../../src/errors.js';
import { FaceClassifier } from '../../src/inference/face-classifier.js';
import { FaceDetector } from '../../src/inference/face-detector.js';
import { FaceEmbedder } from '../../src/inference/face-embedder.js';
import { embedLabelledFaces } from '../../src/training/embed-labelled-faces.js';

/** `name=path` pairs of a repeated option. */
function namedPaths(values: readonly string[] | undefined, option: string): [string, string][] {
  return (values ?? []).map((v) => {
    const at = v.indexOf('=');
    if (at < 1) throw new FaceedgeError('USAGE', `--${option} takes name=path, got "${v}"`);
    return [v.slice(0, at), resolve(v.slice(at + 1))];
  });
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
// Every n-th photo of each label folder (a deterministic spread), to bound the time of a large source.
const every = Number(values.every ?? '1');
if (!Number.isInteger(every) || every < 1) throw new FaceedgeError('USAGE', `--every must be a positive integer`);

const detector = await FaceDetector.create({ model: 'short' });
const embedder = await FaceEmbedder.create({ modelPath: values.embedder ?? shippedEmbedderPath() });
const classifiers = await Promise.all(
  classifierPaths.map(async ([name, modelPath]) => [name, await FaceClassifier.create({ modelPath })] as const),
);
const started = Date.now();
const { written } = await embedLabelledFaces({
  sources,
  out,
  detector,
  embedder,
  classifiers,
  splits: new Set((values.splits ?? 'train,val,test').split(',')),
  every,
  onPhoto: (count) => {
    if (count % 500 === 0)
      console.log(`${count} photos this run, ${(count / ((Date.now() - started) / 1000)).toFixed(1)} photos/s`);
  },
});
await embedder.close();
await detector.close();
for (const [, c] of classifiers) await c.close();
console.log(`done: ${written} photos written to ${out}`);
