/**
 * One job at a time, in the order they were queued: the owner of state that several callers change across
 * awaits (a model swap, a rollback's check-then-act), so that two requests never interleave. mapWithLimit is
 * its sibling for many items at a bounded concurrency.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  /**
   * Runs `job` once every job queued before it has settled, and settles with `job`'s outcome. A job that
   * fails does not stop the ones queued after it.
   */
  run<T>(job: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(job);
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
