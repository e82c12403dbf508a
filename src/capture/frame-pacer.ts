/**
 * Paces frames on a fixed schedule anchored at the first frame, so per-frame processing time and timer
 * jitter do not add up to drift (a GIF at 80 ms/frame stays at 12.5 fps, not 11.9).
 */
import { sleep } from './abortable-wait.js';

export class FramePacer {
  #due: number | null = null;

  /**
   * @param now monotonic clock in ms (default `performance.now()`).
   * @param maxLagMs when the schedule is this far behind (a stalled event loop, a slow decode), it restarts
   *   from now instead of bursting frames out to catch up. Default 1000 ms.
   */
  readonly #now: () => number;
  readonly #maxLagMs: number;

  constructor(now: () => number = () => performance.now(), maxLagMs = 1000) {
    this.#now = now;
    this.#maxLagMs = maxLagMs;
  }

  /**
   * Waits until `intervalMs` after the previous frame's due time (the first call only anchors the schedule
   * and waits `intervalMs` from now). Resolves false when `signal` aborted the wait.
   */
  async wait(intervalMs: number, signal: AbortSignal): Promise<boolean> {
    const now = this.#now();
    this.#due = (this.#due ?? now) + intervalMs;
    if (now - this.#due > this.#maxLagMs) this.#due = now;
    return sleep(this.#due - now, signal);
  }

  /** Forgets the schedule (after a pause, the next frame starts a new one). */
  reset(): void {
    this.#due = null;
  }
}
