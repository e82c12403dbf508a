/**
 * Labelled photos → face embeddings through the board's own path (issue 24 §4): decode → the face detector →
 * the photo's primary face → the embedder manifest's alignment → the embedder (test-time flip as its manifest
 * says). The same detected face is also classified by the 64×64 classifiers given, so a head and those models
 * are scored on the same faces. Used by `faceedge train --on-embedding` and `scripts/heads/embed-faces.ts`.
 *
 * One JSON line per photo: `{source, split, label, path, status, groups?, embedding?, models?}`; status is
 * `ok`, `no face` or `unreadable`. The file is appended to and resumed: photos already written are skipped.
 * A stop (`stop`, on Ctrl-C) ends after the photo in hand, with every line whole; a line cut short by a harder
 * end (a kill, a power cut) is cut off at the next run before anything is appended, so the file never holds a
 * broken line for the engine to choke on.
 * Embeddings are biometric data: the file stays where the caller put it and nothing of it is logged.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, truncate } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readImageFile } from '../capture/read-image-file.js';
import { listLabeledImages, type LabeledImage } from '../dataset/labeled-folder.js';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { FaceClassifier } from '../inference/face-classifier.js';
import type { FaceDetector } from '../inference/face-detector.js';
import type { FaceEmbedder } from '../inference/face-embedder.js';
import { alignFace } from '../vision/align-face.js';
import { decodeForDetection, detectFaces, fullResolutionImage } from '../vision/decode-for-detection.js';
import { primaryFace } from '../vision/primary-face.js';

export interface EmbedLabelledFacesOptions {
  /** `[name, root]`: each root a `{train,val,test}/<label>/*` folder, optionally with a `labels.csv`. */
  readonly sources: readonly (readonly [string, string])[];
  /** The jsonl file to append to (created with its folder). */
  readonly out: string;
  readonly detector: FaceDetector;
  readonly embedder: FaceEmbedder;
  /** 64×64 classifiers run on the same face, recorded under `models.<name>`. */
  readonly classifiers?: readonly (readonly [string, FaceClassifier])[];
  /** Splits to embed. Default train, val and test. */
  readonly splits?: ReadonlySet<string>;
  /** Keep every n-th photo of the listing (a deterministic spread). Default 1. */
  readonly every?: number;
  /** Called after each photo written this run with the running count (no embedding, no path). */
  readonly onPhoto?: (written: number, total: number) => void;
  /** Aborted: stop after the photo in hand (the run then says `stopped`). */
  readonly stop?: AbortSignal;
}

/** What a run did: photos written now, photos the sources hold in all, and whether `stop` ended it early. */
export interface EmbedLabelledFacesResult {
  readonly written: number;
  readonly total: number;
  readonly stopped: boolean;
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

/**
 * `source\tpath` of every photo already in the output, so a resumed run skips them. A last line without its
 * newline was cut short mid-write: it is cut off the file here (that photo is simply done again), so the next
 * line appended does not glue onto it.
 */
async function alreadyDone(out: string): Promise<Set<string>> {
  if (!existsSync(out)) return new Set();
  const text = await readFile(out, 'utf8');
  const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  if (whole.length < text.length) await truncate(out, Buffer.byteLength(whole));
  const done = new Set<string>();
  for (const [i, line] of whole.split('\n').entries()) {
    if (!line.trim()) continue;
    let r: { source: string; path: string };
    try {
      r = JSON.parse(line) as { source: string; path: string };
    } catch {
      throw new FaceedgeError('DATASET_INVALID', `${out} line ${i + 1} is not a whole record`, {
        hint: 'delete the file (its photos are embedded again on the next run)',
      });
    }
    done.add(`${r.source}\t${r.path}`);
  }
  return done;
}

/** One photo through the board's path: its record without the source fields. */
async function embedPhoto(o: EmbedLabelledFacesOptions, image: LabeledImage): Promise<Record<string, unknown>> {
  let decoded;
  try {
    const bytes = await readImageFile(image.path);
    decoded = await decodeForDetection(bytes, image.relative, { inputSize: o.detector.inputSize });
  } catch (err) {
    if (!isFaceedgeError(err)) throw err;
    return { status: 'unreadable' };
  }
  const pick = primaryFace(await detectFaces(o.detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
  if (!pick.face) return { status: 'no face' };
  const full = await fullResolutionImage(decoded);
  const embedding = o.embedder.embedCropSync(o.embedder.crop(full, pick.face));
  const models: Record<string, { label: string; probabilities: number[] }> = {};
  for (const [name, classifier] of o.classifiers ?? []) {
    const result = classifier.classifySync(alignFace(full, pick.face, classifier.alignment));
    models[name] = { label: result.label, probabilities: result.probabilities.map((p) => +p.toFixed(6)) };
  }
  return { status: 'ok', embedding: Array.from(embedding, (v) => +v.toFixed(6)), models };
}

/**
 * Appends every photo of the sources not yet in `out`; returns how many were written this run and how many
 * the sources hold in all (after `splits` and `every`).
 */
export async function embedLabelledFaces(o: EmbedLabelledFacesOptions): Promise<EmbedLabelledFacesResult> {
  const splits = o.splits ?? new Set(['train', 'val', 'test']);
  const every = o.every ?? 1;
  const done = await alreadyDone(o.out);
  const listed: { source: string; image: LabeledImage; groups: Map<string, Record<string, string>> }[] = [];
  for (const [source, root] of o.sources) {
    const groups = await readGroups(root);
    for (const [k, image] of (await listLabeledImages(root)).entries())
      if (splits.has(image.split) && k % every === 0) listed.push({ source, image, groups });
  }
  const todo = listed.filter(({ source, image }) => !done.has(`${source}\t${image.relative}`));
  await mkdir(dirname(o.out), { recursive: true });
  const sink = createWriteStream(o.out, { flags: 'a' });
  let written = 0;
  try {
    for (const { source, image, groups } of todo) {
      if (o.stop?.aborted) return { written, total: listed.length, stopped: true };
      const record = await embedPhoto(o, image);
      const line = { source, split: image.split, label: image.label, path: image.relative, ...record };
      const extra = groups.get(image.relative);
      if (extra) Object.assign(line, { groups: extra });
      if (!sink.write(`${JSON.stringify(line)}\n`)) await new Promise<void>((r) => sink.once('drain', () => r()));
      written++;
      o.onPhoto?.(written, todo.length);
    }
  } finally {
    await new Promise<void>((r) => sink.end(r));
  }
  return { written, total: listed.length, stopped: false };
}
