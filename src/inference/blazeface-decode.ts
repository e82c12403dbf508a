/**
 * Turns raw BlazeFace outputs into faces: box + keypoint decoding against the anchors, score
 * threshold, and MediaPipe-style weighted non-maximum suppression. Pure functions, normalized
 * [0, 1] coordinates of the (letterboxed) model input.
 */

/** A candidate in normalized model-input coordinates: [xmin, ymin, xmax, ymax] + 6 keypoints. */
export interface RawDetection {
  readonly box: [number, number, number, number];
  /** 12 numbers: x, y for each of the 6 keypoints. */
  readonly keypoints: number[];
  readonly score: number;
}

const VALUES_PER_ANCHOR = 16;
const RAW_SCORE_CLIP = 100;

/**
 * @param regressors `[anchors × 16]` raw offsets in input pixels.
 * @param scores `[anchors]` raw logits.
 * @param anchors interleaved anchor centres from `generateAnchors`.
 * @param inputSize model input side in pixels (the offsets' scale).
 * @param minScore minimum sigmoid score kept (default 0.5).
 */
export function decodeDetections(
  regressors: Float32Array,
  scores: Float32Array,
  anchors: Float32Array,
  inputSize: number,
  minScore = 0.5,
): RawDetection[] {
  const count = anchors.length / 2;
  // Compare logits instead of computing a sigmoid for each of the ~900–2300 anchors.
  const minLogit = Math.log(minScore / (1 - minScore));
  const out: RawDetection[] = [];
  for (let i = 0; i < count; i++) {
    const logit = Math.max(-RAW_SCORE_CLIP, Math.min(RAW_SCORE_CLIP, scores[i]));
    if (logit < minLogit) continue;
    const o = i * VALUES_PER_ANCHOR;
    const ax = anchors[2 * i];
    const ay = anchors[2 * i + 1];
    const cx = regressors[o] / inputSize + ax;
    const cy = regressors[o + 1] / inputSize + ay;
    const w = regressors[o + 2] / inputSize;
    const h = regressors[o + 3] / inputSize;
    const keypoints: number[] = [];
    for (let k = 0; k < 6; k++) {
      keypoints.push(regressors[o + 4 + 2 * k] / inputSize + ax, regressors[o + 5 + 2 * k] / inputSize + ay);
    }
    out.push({ box: [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], keypoints, score: 1 / (1 + Math.exp(-logit)) });
  }
  return out;
}

function iou(a: RawDetection['box'], b: RawDetection['box']): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Weighted NMS: each cluster of overlapping candidates (IoU > `iouThreshold`, default 0.3) becomes
 * one detection whose box and keypoints are the score-weighted mean of the cluster and whose score
 * is the best one. More stable than plain NMS from frame to frame, which the tracker likes.
 */
export function weightedNonMaxSuppression(candidates: RawDetection[], iouThreshold = 0.3): RawDetection[] {
  const remaining = [...candidates].sort((a, b) => b.score - a.score);
  const result: RawDetection[] = [];
  while (remaining.length > 0) {
    const best = remaining[0];
    const cluster: RawDetection[] = [];
    const rest: RawDetection[] = [];
    for (const c of remaining) (iou(best.box, c.box) > iouThreshold ? cluster : rest).push(c);
    let total = 0;
    const box = [0, 0, 0, 0];
    const keypoints = new Array<number>(12).fill(0);
    for (const c of cluster) {
      total += c.score;
      for (let j = 0; j < 4; j++) box[j] += c.box[j] * c.score;
      for (let j = 0; j < 12; j++) keypoints[j] += c.keypoints[j] * c.score;
    }
    result.push({
      box: box.map((v) => v / total) as RawDetection['box'],
      keypoints: keypoints.map((v) => v / total),
      score: best.score,
    });
    remaining.length = 0;
    remaining.push(...rest);
  }
  return result;
}
