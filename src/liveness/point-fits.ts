/**
 * Least-squares fits between two sets of corresponding 2-D points, and how far each fit misses: a similarity
 * (rotation, uniform scale, translation: 4 degrees of freedom) and a homography (the projective map of one
 * plane seen by a pinhole camera from two poses: 8 degrees of freedom). Pure functions; no allocation beyond
 * small arrays, so a track's few hundred point pairs cost well under a millisecond.
 */
import type { Point } from '../vision/face.js';

/** A 3×3 matrix, row-major. */
export type Matrix3 = readonly [number, number, number, number, number, number, number, number, number];

/** Where `h` sends `p` (homogeneous division); NaN coordinates when `p` maps to infinity. */
export function applyHomography(h: Matrix3, p: Point): Point {
  const w = h[6] * p.x + h[7] * p.y + h[8];
  return { x: (h[0] * p.x + h[1] * p.y + h[2]) / w, y: (h[3] * p.x + h[4] * p.y + h[5]) / w };
}

/** Root mean square distance between `map(from[i])` and `to[i]`, in the points' units. */
export function rmsTransferError(map: (p: Point) => Point, from: readonly Point[], to: readonly Point[]): number {
  let sum = 0;
  for (let i = 0; i < from.length; i++) {
    const q = map(from[i]);
    sum += (q.x - to[i].x) ** 2 + (q.y - to[i].y) ** 2;
  }
  return Math.sqrt(sum / from.length);
}

/**
 * The similarity that maps `from` onto `to` with the least squared error (closed form: centroids, then the
 * best rotation and scale of the centred points). Needs at least two distinct points.
 */
export function fitSimilarity(from: readonly Point[], to: readonly Point[]): (p: Point) => Point {
  const n = from.length;
  let fx = 0,
    fy = 0,
    tx = 0,
    ty = 0;
  for (let i = 0; i < n; i++) {
    fx += from[i].x / n;
    fy += from[i].y / n;
    tx += to[i].x / n;
    ty += to[i].y / n;
  }
  // For centred points, the optimal map is z -> (a + ib) z with a + ib = Σ conj(f) t / Σ |f|².
  let a = 0,
    b = 0,
    norm = 0;
  for (let i = 0; i < n; i++) {
    const px = from[i].x - fx,
      py = from[i].y - fy;
    const qx = to[i].x - tx,
      qy = to[i].y - ty;
    a += px * qx + py * qy;
    b += px * qy - py * qx;
    norm += px * px + py * py;
  }
  a /= norm;
  b /= norm;
  return (p) => ({ x: a * (p.x - fx) - b * (p.y - fy) + tx, y: b * (p.x - fx) + a * (p.y - fy) + ty });
}

/**
 * Hartley's normalisation: the translation and uniform scale that move the points' centroid to the origin and
 * their mean distance from it to √2, which keeps the DLT's equations well conditioned.
 */
function normalisation(points: readonly Point[]): { cx: number; cy: number; s: number } {
  let cx = 0,
    cy = 0;
  for (const p of points) {
    cx += p.x / points.length;
    cy += p.y / points.length;
  }
  let mean = 0;
  for (const p of points) mean += Math.hypot(p.x - cx, p.y - cy) / points.length;
  return { cx, cy, s: mean > 0 ? Math.SQRT2 / mean : 1 };
}

/**
 * Eigenvector of the smallest eigenvalue of a symmetric n×n matrix (row-major, overwritten), by cyclic Jacobi
 * rotations: exact to rounding for the 9×9 normal matrices here, and free of the pivoting choices a
 * general SVD would need.
 */
function smallestEigenvector(m: Float64Array, n: number): Float64Array {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p],
            mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k],
            mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p],
            vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (m[i * n + i] < m[best * n + best]) best = i;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = v[k * n + best];
  return out;
}

/**
 * The homography that maps `from` onto `to`, by the normalised direct linear transform (the least-squares
 * solution of the algebraic equations; with 6 points it leaves 4 degrees of freedom to measure the misfit).
 * Needs at least 4 points, no 3 of them on a line; returns null for a degenerate configuration.
 */
export function fitHomography(from: readonly Point[], to: readonly Point[]): Matrix3 | null {
  if (from.length < 4 || from.length !== to.length) return null;
  const a = normalisation(from);
  const b = normalisation(to);
  const ata = new Float64Array(81);
  const row = new Float64Array(9);
  const accumulate = () => {
    for (let i = 0; i < 9; i++) for (let j = 0; j < 9; j++) ata[i * 9 + j] += row[i] * row[j];
  };
  for (let i = 0; i < from.length; i++) {
    const x = (from[i].x - a.cx) * a.s,
      y = (from[i].y - a.cy) * a.s;
    const u = (to[i].x - b.cx) * b.s,
      v = (to[i].y - b.cy) * b.s;
    row.set([-x, -y, -1, 0, 0, 0, u * x, u * y, u]);
    accumulate();
    row.set([0, 0, 0, -x, -y, -1, v * x, v * y, v]);
    accumulate();
  }
  const h = smallestEigenvector(ata, 9);
  if (!h.every(Number.isFinite)) return null;
  // Undo the normalisations: H = Tb⁻¹ · Hn · Ta, with Ta(p) = s·(p − c).
  const [h0, h1, h2, h3, h4, h5, h6, h7, h8] = h;
  const ta = (r0: number, r1: number, r2: number): [number, number, number] => [
    r0 * a.s,
    r1 * a.s,
    r2 - (r0 * a.cx + r1 * a.cy) * a.s,
  ];
  const r0 = ta(h0, h1, h2),
    r1 = ta(h3, h4, h5),
    r2 = ta(h6, h7, h8);
  const out: number[] = [];
  for (let c = 0; c < 3; c++) out[c] = r0[c] / b.s + b.cx * r2[c];
  for (let c = 0; c < 3; c++) out[3 + c] = r1[c] / b.s + b.cy * r2[c];
  for (let c = 0; c < 3; c++) out[6 + c] = r2[c];
  const scale = out[8];
  if (!Number.isFinite(scale) || Math.abs(scale) < 1e-12) return null;
  return out.map((x) => x / scale) as unknown as Matrix3;
}
