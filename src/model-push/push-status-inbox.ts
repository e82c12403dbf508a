/**
 * The sender's queue of the board's transfer statuses (`…/model/push/<id>/status`), in arrival order,
 * with the waits a push needs: the next status of some states within a time, a pause, and a race of any
 * promise against a time limit, each ending at once when the push's AbortSignal fires.
 */
import { FaceedgeError } from '../errors.js';
import type { TransferStatus } from './mqtt-push-protocol.js';

export class StatusInbox<S extends TransferStatus = TransferStatus> {
  #queue: S[] = [];
  readonly #wakers = new Set<() => void>();

  /** @param signal aborts every wait with `MODEL_TRANSFER_FAILED` "model push aborted". */
  readonly #signal?: AbortSignal;

  constructor(signal?: AbortSignal) {
    this.#signal = signal;
    signal?.addEventListener('abort', () => this.#wakeAll(), { once: true });
  }

  push(s: S): void {
    this.#queue.push(s);
    this.#wakeAll();
  }

  throwIfAborted(): void {
    if (this.#signal?.aborted) throw new FaceedgeError('MODEL_TRANSFER_FAILED', 'model push aborted');
  }

  /**
   * The first queued status whose state is in `states` (earlier ones in other states are dropped), or
   * null when none comes within `timeoutMs`.
   */
  async next(states: readonly TransferStatus['state'][], timeoutMs: number): Promise<S | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.throwIfAborted();
      while (this.#queue.length > 0) {
        const s = this.#queue.shift()!;
        if (states.includes(s.state)) return s;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await this.#wait(left);
    }
  }

  /** Waits `ms` (a pause between rounds); a status arriving meanwhile stays queued. */
  async sleep(ms: number): Promise<void> {
    this.throwIfAborted();
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#signal?.addEventListener('abort', done, { once: true });
    });
    this.throwIfAborted();
  }

  /** `work`'s result, or `timeout()` thrown after `ms`, or the abort; `work` is left to settle on its own. */
  async race<T>(work: Promise<T>, ms: number, timeout: () => Error): Promise<T> {
    this.throwIfAborted();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timeout()), Math.max(0, ms));
      onAbort = () => reject(new FaceedgeError('MODEL_TRANSFER_FAILED', 'model push aborted'));
      this.#signal?.addEventListener('abort', onAbort, { once: true });
    });
    work.catch(() => undefined); // a late rejection after the limit must not go unhandled
    try {
      return await Promise.race([work, limit]);
    } finally {
      clearTimeout(timer);
      if (onAbort) this.#signal?.removeEventListener('abort', onAbort);
    }
  }

  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.#wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#wakers.add(done);
    });
  }

  #wakeAll(): void {
    for (const w of [...this.#wakers]) w();
  }
}
