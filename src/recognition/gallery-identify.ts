/**
 * Who is this? A probe embedding against the gallery: each person's similarity is the best cosine
 * similarity over their embeddings; the best person is named only when their similarity reaches the
 * model's threshold (manifest `recognition.threshold`, chosen for a stated false-accept rate) *and*
 * beats the second-best person by a margin, so that a face between two enrolled people is nobody rather
 * than a coin toss. `identifyPhotos` runs many photos through this with bounded concurrency, yielding
 * results in input order as they are ready (thousands of photos never sit in memory at once).
 */
import { cosineSimilarity } from '../inference/face-embedder.js';
import type { Box } from '../vision/face.js';
import type { GalleryContents } from './gallery-contents.js';
import { photoFace, type GalleryPhotoTools } from './gallery-photo.js';

/**
 * Margin over the second-best person when the model's manifest names none (`recognition.margin`), cosine
 * similarity. 0.02 was measured with the first dlib ResNet export on the CelebA open-set protocol
 * (`scripts/gallery-open-set.ts`; README "Known faces"): without a margin a threshold chosen on pairs names many
 * strangers, since each probe meets every enrolled person. The shipped manifest carries its own margin (0.03,
 * measured the same way for its geometry); this default is for manifests without one.
 */
export const DEFAULT_IDENTIFY_MARGIN = 0.02;

/** The margin a model's manifest asks for (`recognition.margin`), else {@link DEFAULT_IDENTIFY_MARGIN}. */
export function manifestMargin(recognition: Readonly<Record<string, unknown>>): number {
  const margin = recognition.margin;
  return typeof margin === 'number' && margin >= 0 && margin < 1 ? margin : DEFAULT_IDENTIFY_MARGIN;
}

export interface MatchOptions {
  /** Cosine similarity a name needs, at least (the manifest's threshold). */
  readonly threshold: number;
  /** Lead over the second-best person a name needs. Default {@link DEFAULT_IDENTIFY_MARGIN}. */
  readonly margin?: number;
}

export interface Match {
  /** The name, or null: below the threshold, or without the margin over the second-best. */
  readonly person: string | null;
  /** Best person's similarity (null when the gallery is empty). */
  readonly similarity: number | null;
  /** Second-best person's similarity (null with fewer than two people). */
  readonly second_similarity: number | null;
  /** The best person's name whatever the decision (for measurement; never shown as an identification). */
  readonly nearest: string | null;
}

export function matchEmbedding(gallery: GalleryContents, probe: Float32Array, options: MatchOptions): Match {
  let best: { name: string; similarity: number } | null = null;
  let second: number | null = null;
  for (const person of gallery.people) {
    let similarity = -1;
    for (const e of person.embeddings) similarity = Math.max(similarity, cosineSimilarity(e, probe));
    if (!best || similarity > best.similarity) {
      if (best) second = best.similarity;
      best = { name: person.name, similarity };
    } else if (second === null || similarity > second) {
      second = similarity;
    }
  }
  if (!best) return { person: null, similarity: null, second_similarity: null, nearest: null };
  const margin = options.margin ?? DEFAULT_IDENTIFY_MARGIN;
  const named = best.similarity >= options.threshold && (second === null || best.similarity - second >= margin);
  return {
    person: named ? best.name : null,
    similarity: round(best.similarity),
    second_similarity: second === null ? null : round(second),
    nearest: best.name,
  };
}

const round = (v: number) => Number(v.toFixed(4));

/** One line of `faces identify --json`. */
export interface IdentifyResult {
  /** The photo exactly as given (or as found under a folder given). */
  readonly file: string;
  readonly person: string | null;
  readonly similarity: number | null;
  readonly second_similarity: number | null;
  /** The face identified, source pixels; null when none was found. */
  readonly box: Box | null;
  /** Present when no face was compared: `no face`, or why the photo could not be read. */
  readonly error?: string;
}

export interface IdentifyOptions extends MatchOptions {
  readonly tools: GalleryPhotoTools;
  readonly gallery: GalleryContents;
  /** Photos in flight at once (decoding overlaps inference). Default 2. */
  readonly concurrency?: number;
}

/** The results for `files`, in order, with at most `concurrency` photos in flight. */
export async function* identifyPhotos(
  files: AsyncIterable<string> | Iterable<string>,
  options: IdentifyOptions,
): AsyncGenerator<IdentifyResult> {
  yield* mapInOrder(files, Math.max(1, options.concurrency ?? 2), async (file) => {
    const face = await photoFace(file, options.tools, { purpose: 'identify' });
    if (!face.usable) {
      return { file, person: null, similarity: null, second_similarity: null, box: face.box, error: face.reason };
    }
    const { person, similarity, second_similarity } = matchEmbedding(options.gallery, face.embedding, options);
    return { file, person, similarity, second_similarity, box: face.box };
  });
}

/**
 * `job` over `items` with at most `limit` in flight, yielding the results in item order: a result that
 * is ready early waits for the ones before it, and no more than `limit` are ever held.
 */
export async function* mapInOrder<T, R>(
  items: AsyncIterable<T> | Iterable<T>,
  limit: number,
  job: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const inFlight: Promise<R>[] = [];
  const most = Number.isInteger(limit) && limit >= 1 ? limit : 1;
  try {
    for await (const item of items) {
      inFlight.push(job(item));
      if (inFlight.length >= most) yield await (inFlight.shift() as Promise<R>);
    }
    while (inFlight.length > 0) yield await (inFlight.shift() as Promise<R>);
  } finally {
    // A consumer that stops early, or a job that threw: let the others settle, unobserved failures included.
    await Promise.allSettled(inFlight);
  }
}
