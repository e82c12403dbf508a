/**
 * The recognizer's model work running off the frame loop (decisions, and the embeddings and liveness scores
 * started as kept frames arrive), so that a stop can wait for all of it before the models close.
 */
export class InFlightWork {
  readonly #running = new Set<Promise<void>>();

  /**
   * Counts `work` as running until it settles, and marks its failure handled here: the failure belongs to
   * whoever awaits `work` (a decision), or to nobody when its track ended first. Returns `work`.
   */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled)); // `settled` cannot reject
    return work;
  }

  /** Settles when nothing is running, work started meanwhile included. */
  async idle(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}
