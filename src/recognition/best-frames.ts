/**
 * The best few frames of a track, by score, in bounded memory: a track may be seen for minutes, but only
 * `capacity` candidates (each with its crops) are ever held. A better frame replaces the worst one kept.
 */
export interface ScoredFrame<T> {
  /** Higher is better (src/recognition/gallery-photo-quality.ts `recognitionFrameScore`). */
  readonly score: number;
  /** Frame time, ms (monotonic). */
  readonly timeMs: number;
  readonly value: T;
}

export class BestFrames<T> {
  readonly capacity: number;
  #kept: ScoredFrame<T>[] = [];
  /** Frames offered since the last `clear`, kept or not. */
  offered = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity ${capacity} is not a count`);
    this.capacity = capacity;
  }

  /** Whether a frame of `score` would be kept now (so that its crops need not be made when not). */
  wouldKeep(score: number): boolean {
    return Number.isFinite(score) && (this.#kept.length < this.capacity || score > this.#worst().score);
  }

  /** Offers a frame; keeps it when it is among the best `capacity` so far. Returns whether it was kept. */
  offer(frame: ScoredFrame<T>): boolean {
    this.offered++;
    if (!this.wouldKeep(frame.score)) return false;
    if (this.#kept.length >= this.capacity) this.#kept.splice(this.#kept.indexOf(this.#worst()), 1);
    this.#kept.push(frame);
    return true;
  }

  /** Counts a frame that was not worth offering (its score alone said no): it still fills the window. */
  skip(): void {
    this.offered++;
  }

  /** The frames kept, best first (ties: earlier first). */
  best(count = this.capacity): ScoredFrame<T>[] {
    return [...this.#kept].sort((a, b) => b.score - a.score || a.timeMs - b.timeMs).slice(0, count);
  }

  get size(): number {
    return this.#kept.length;
  }

  /** The best score kept; 0 when empty. */
  get topScore(): number {
    return this.#kept.reduce((m, f) => Math.max(m, f.score), 0);
  }

  /** Drops every frame (their crops go with them). */
  clear(): void {
    this.#kept = [];
    this.offered = 0;
  }

  #worst(): ScoredFrame<T> {
    return this.#kept.reduce((w, f) => (f.score < w.score || (f.score === w.score && f.timeMs > w.timeMs) ? f : w));
  }
}
