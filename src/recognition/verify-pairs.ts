/**
 * `faceedge faces verify`: a pairs CSV (`path_a,path_b,same[,fold]`, paths relative to the CSV's folder)
 * through the board's own path — decode → BlazeFace → the photo's primary face (as `eval` picks it) →
 * the embedder's aligner → the embedding network — then the verification metrics. Each photo is
 * embedded once however many pairs it is in.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import type { FaceDetector } from '../inference/face-detector.js';
import { cosineSimilarity, type FaceEmbedder } from '../inference/face-embedder.js';
import { decodeForDetection, detectFaces, fullResolutionImage } from '../vision/decode-for-detection.js';
import { primaryFace } from '../vision/primary-face.js';
import { mapWithLimit } from '../concurrency/map-with-limit.js';
import { summarizeVerification, tarAtFar, type ScoredPair, type VerificationSummary } from './verification-metrics.js';
import { pairGroup, summarizeGroups, type GroupSummary } from './verify-groups.js';

export interface PairRow {
  readonly pathA: string;
  readonly pathB: string;
  readonly same: boolean;
  readonly fold: number | null;
}

/** Parses a pairs CSV; throws DATASET_INVALID naming the first bad line. Paths are resolved against `baseDir`. */
export function parsePairsCsv(text: string, baseDir: string, origin = 'pairs CSV'): PairRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  const header = (lines.shift() ?? '').split(',').map((h) => h.trim());
  const col = (name: string) => header.indexOf(name);
  const [a, b, same, fold] = [col('path_a'), col('path_b'), col('same'), col('fold')];
  if (a < 0 || b < 0 || same < 0) {
    throw new FaceedgeError('DATASET_INVALID', `${origin}: the header must name path_a,path_b,same[,fold]`, {
      hint: `found: ${header.join(',')}`,
    });
  }
  return lines.map((line, i) => {
    const cells = line.split(',').map((c) => c.trim());
    const where = `${origin} line ${i + 2}`;
    if (cells.length !== header.length)
      throw new FaceedgeError('DATASET_INVALID', `${where}: ${cells.length} fields, expected ${header.length}`);
    if (!['0', '1'].includes(cells[same]))
      throw new FaceedgeError('DATASET_INVALID', `${where}: same must be 0 or 1, got ${cells[same]}`);
    const foldValue = fold >= 0 ? Number(cells[fold]) : null;
    if (foldValue !== null && !(Number.isInteger(foldValue) && foldValue >= 0)) {
      throw new FaceedgeError('DATASET_INVALID', `${where}: fold must be a whole number ≥ 0, got ${cells[fold]}`);
    }
    return {
      pathA: resolve(baseDir, cells[a]),
      pathB: resolve(baseDir, cells[b]),
      same: cells[same] === '1',
      fold: foldValue,
    };
  });
}

export interface VerifyOptions {
  readonly detector: FaceDetector;
  readonly embedder: FaceEmbedder;
  /** Photos in flight at once (decode overlaps inference). Default 2. */
  readonly concurrency?: number;
  /** Called after each photo with (done, total). */
  readonly onImage?: (done: number, total: number) => void;
  /** Absolute photo path → group label (`readGroupLabels`): adds per-group figures to the result. */
  readonly groups?: ReadonlyMap<string, string>;
}

export interface VerifyResult extends VerificationSummary {
  /** Photos that could not be read or decoded (their pairs count as missing faces). */
  readonly unreadable: number;
  readonly model: {
    readonly id: string;
    readonly sha256: string;
    readonly threshold: number;
    readonly far: number;
    /** Whether each photo was embedded together with its mirror image. */
    readonly flip_average: boolean;
  };
  /** The lowest thresholds whose false-accept rate over these pairs is at most 1 % and 0.1 %. */
  readonly threshold_at_far: { readonly '0.01': number; readonly '0.001': number };
  /** True- and false-accept rates over these pairs at the model's own threshold (`model.threshold`). */
  readonly at_model_threshold: { readonly tar: number; readonly far: number };
  /** Per-group figures at the model's threshold, when `groups` was given (see verify-groups.ts). */
  readonly groups?: Record<string, GroupSummary>;
}

/** Embedding of the photo's primary face, or null when none was found or the photo is unreadable. */
async function embedPhoto(path: string, options: VerifyOptions): Promise<Float32Array | null | 'unreadable'> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch {
    return 'unreadable';
  }
  try {
    const decoded = await decodeForDetection(data, path, { inputSize: options.detector.inputSize });
    const pick = primaryFace(await detectFaces(options.detector, decoded), decoded.sourceWidth, decoded.sourceHeight);
    if (!pick.face) return null;
    return await options.embedder.embed(await fullResolutionImage(decoded), pick.face);
  } catch (err) {
    if (
      isFaceedgeError(err, 'IMAGE_UNREADABLE') ||
      isFaceedgeError(err, 'IMAGE_TOO_LARGE') ||
      isFaceedgeError(err, 'IMAGE_TOO_SMALL')
    )
      return 'unreadable';
    throw err;
  }
}

export async function verifyPairs(csvPath: string, options: VerifyOptions): Promise<VerifyResult> {
  let text: string;
  try {
    text = await readFile(csvPath, 'utf8');
  } catch (cause) {
    throw new FaceedgeError('DATASET_INVALID', `cannot read ${csvPath}: ${(cause as Error).message}`, { cause });
  }
  const rows = parsePairsCsv(text, dirname(resolve(csvPath)), csvPath);
  if (rows.length === 0) throw new FaceedgeError('DATASET_INVALID', `${csvPath} holds no pairs`);
  const photos = [...new Set(rows.flatMap((r) => [r.pathA, r.pathB]))];
  let done = 0;
  const results = await mapWithLimit(photos, options.concurrency ?? 2, async (path) => {
    const r = await embedPhoto(path, options);
    options.onImage?.(++done, photos.length);
    return r;
  });
  const embeddings = new Map(photos.map((p, i) => [p, results[i]]));
  const scored: ScoredPair[] = rows.map((r) => {
    const a = embeddings.get(r.pathA);
    const b = embeddings.get(r.pathB);
    const ok = a instanceof Float32Array && b instanceof Float32Array;
    return { same: r.same, fold: r.fold, score: ok ? cosineSimilarity(a, b) : null };
  });
  const { embedder, groups } = options;
  const accepted = (p: ScoredPair) => p.score !== null && p.score >= embedder.threshold;
  const rate = (of: ScoredPair[]) => (of.length ? of.filter(accepted).length / of.length : 0);
  return {
    ...summarizeVerification(scored),
    unreadable: results.filter((r) => r === 'unreadable').length,
    threshold_at_far: { '0.01': tarAtFar(scored, 0.01).threshold, '0.001': tarAtFar(scored, 0.001).threshold },
    at_model_threshold: { tar: rate(scored.filter((p) => p.same)), far: rate(scored.filter((p) => !p.same)) },
    ...(groups && {
      groups: summarizeGroups(
        scored.map((p, i) => ({ ...p, group: pairGroup(groups, rows[i].pathA, rows[i].pathB) })),
        embedder.threshold,
      ),
    }),
    model: {
      id: embedder.id,
      sha256: embedder.sha256,
      threshold: embedder.threshold,
      far: embedder.far,
      flip_average: embedder.flipAverage,
    },
  };
}
