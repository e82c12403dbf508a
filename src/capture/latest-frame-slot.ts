/**
 * Latest-frame-wins hand-over between a source and a slower consumer (DESIGN.md rule 12): it holds at most
 * one pending frame, so when inference falls behind the camera, old frames are dropped instead of queued
 * and the consumer always works on the freshest picture.
 */
import type { Frame } from './frame.js';
import type { FrameSink } from './frame-source.js';

/** Counters of a {@link LatestFrameSlot}, monotonic. */
export interface LatestFrameSlotStats {
  /** Frames put into the slot. */
  readonly frames_in: number;
  /** Frames replaced by a newer one before anybody took them. */
  readonly dropped: number;
  /** Frames handed to a consumer by `next()`. */
  readonly taken: number;
}

interface Waiter {
  resolve(frame: Frame | null): void;
  reject(reason: unknown): void;
  cleanup(): void;
}

export class LatestFrameSlot {
  #pending: Frame | null = null;
  #ended = false;
  readonly #waiters: Waiter[] = [];
  #framesIn = 0;
  #dropped = 0;
  #taken = 0;
  /** One shared promise per "a frame is pending" period, so callers that ignore it cannot pile up. */
  #empty: { promise: Promise<void>; resolve(): void } | null = null;

  /** Offers a frame. An unconsumed pending frame is replaced and counted as dropped. Ignored after `end()`. */
  put(frame: Frame): void {
    if (this.#ended) return;
    this.#framesIn++;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.cleanup();
      this.#taken++;
      waiter.resolve(frame);
      return;
    }
    if (this.#pending) this.#dropped++;
    this.#pending = frame;
  }

  /** Marks the end of the source: once the pending frame (if any) is taken, `next()` resolves with null. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    for (const waiter of this.#waiters.splice(0)) {
      waiter.cleanup();
      waiter.resolve(null);
    }
    // Nobody will be waiting for space any more: a source blocked on whenEmpty() must not hang.
    if (!this.#pending) this.#settleEmpty();
  }

  /**
   * The next frame: the pending one immediately, else the next one put. Resolves with null when the source
   * has ended and nothing is pending; rejects with `signal.reason` when `signal` aborts first.
   */
  next(signal?: AbortSignal): Promise<Frame | null> {
    if (this.#pending) {
      const frame = this.#pending;
      this.#pending = null;
      this.#taken++;
      this.#settleEmpty();
      return Promise.resolve(frame);
    }
    if (this.#ended) return Promise.resolve(null);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<Frame | null>((resolve, reject) => {
      const onAbort = (): void => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        resolve,
        reject,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Resolves once no frame is pending (the consumer took it) or the slot has ended. Every caller during
   * one pending period gets the same promise, so ignoring it costs nothing.
   */
  whenEmpty(): Promise<void> {
    if (!this.#pending || this.#ended) return Promise.resolve();
    if (!this.#empty) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#empty = { promise, resolve };
    }
    return this.#empty.promise;
  }

  /** True once the source has ended (no frame will be accepted any more). */
  get isEnded(): boolean {
    return this.#ended;
  }

  /** True while a frame waits to be taken. */
  get hasPending(): boolean {
    return this.#pending !== null;
  }

  stats(): LatestFrameSlotStats {
    return { frames_in: this.#framesIn, dropped: this.#dropped, taken: this.#taken };
  }

  /**
   * A {@link FrameSink} that feeds this slot. Its `frame()` returns {@link whenEmpty}, which unpaced
   * sources await (run at the consumer's speed) and paced sources ignore. `hooks` receive status and errors.
   */
  asSink(hooks: Pick<FrameSink, 'status' | 'error'> & { end?(): void } = {}): FrameSink {
    return {
      frame: (frame) => {
        this.put(frame);
        return this.whenEmpty();
      },
      end: () => {
        this.end();
        hooks.end?.();
      },
      status: hooks.status,
      error: hooks.error,
    };
  }

  #settleEmpty(): void {
    const empty = this.#empty;
    this.#empty = null;
    empty?.resolve();
  }
}
