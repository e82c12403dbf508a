/**
 * The bookkeeping every source shares: stamping frames (seq, monotonic and wall-clock time), counting,
 * reporting status changes only when the state really changes, and ending exactly once.
 */
import { FaceedgeError } from '../errors.js';
import type { EncodedImage, Frame, RgbImage } from './frame.js';
import type { FrameSink, SourceState, SourceStats } from './frame-source.js';

/** Clocks, injectable so tests can pin time. */
export interface SourceClock {
  /** Monotonic ms (default `performance.now()`). */
  readonly now: () => number;
  /** Wall-clock ms since the Unix epoch (default `Date.now()`). */
  readonly wallNow: () => number;
}

const systemClock: SourceClock = { now: () => performance.now(), wallNow: () => Date.now() };

export class SourceReporter {
  #seq = 0;
  #framesOut = 0;
  #skipped = 0;
  #starts = 0;
  #state: SourceState | null = null;
  #reason = '';
  #ended = false;

  readonly #sink: FrameSink;
  readonly #clock: SourceClock;

  constructor(sink: FrameSink, clock: SourceClock = systemClock) {
    this.#sink = sink;
    this.#clock = clock;
  }

  /** True once {@link end} ran; sources check it to stop producing. */
  get hasEnded(): boolean {
    return this.#ended;
  }

  /** Stamps `image` as the next frame and hands it to the sink; returns the sink's readiness promise, if any. */
  emit(image: RgbImage | EncodedImage): void | Promise<void> {
    if (this.#ended) return;
    const frame: Frame = {
      seq: this.#seq++,
      timestampMs: this.#clock.now(),
      wallTimeMs: this.#clock.wallNow(),
      image,
    };
    this.#framesOut++;
    let ready: void | Promise<void>;
    try {
      ready = this.#sink.frame(frame);
    } catch (cause) {
      // A consumer bug must not kill the capture loop (or, from a stdout handler, the process).
      this.#sink.error?.(
        new FaceedgeError('SOURCE_FAILED', `frame sink threw: ${(cause as Error).message}`, { cause }),
      );
      return;
    }
    // Paced sources never await this promise; a rejection must not become an unhandled one.
    ready?.catch(() => {});
    return ready;
  }

  /**
   * Reports a status change. A repeat of the same state and reason is swallowed (a camera failing the same
   * way on every retry is not news); a new reason while offline is reported, so the status says why.
   */
  status(state: SourceState, reason: string): void {
    if (this.#state === state && this.#reason === reason) return;
    this.#state = state;
    this.#reason = reason;
    this.#sink.status?.({ state, reason, wallTimeMs: this.#clock.wallNow() });
  }

  /**
   * Counts an input that was skipped and reports why; `report: false` only counts it (the same input
   * skipped again on a later loop, already reported).
   */
  skip(error: FaceedgeError, options: { readonly report?: boolean } = {}): void {
    this.#skipped++;
    if (options.report ?? true) this.#sink.error?.(error);
  }

  /** Reports a recoverable problem that did not cost an input (e.g. a restart of a camera process). */
  error(error: FaceedgeError): void {
    this.#sink.error?.(error);
  }

  /** Counts a (re)start of the underlying producer. */
  started(): void {
    this.#starts++;
  }

  /** Goes offline with `reason` and tells the sink no more frames will come. Idempotent. */
  end(reason: string): void {
    if (this.#ended) return;
    this.status('offline', reason);
    this.#ended = true;
    this.#sink.end?.();
  }

  stats(): SourceStats {
    return { framesOut: this.#framesOut, skipped: this.#skipped, starts: this.#starts };
  }
}
