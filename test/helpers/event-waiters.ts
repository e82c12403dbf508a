/**
 * Waits that re-check a condition each time their owner records something new (a daemon log line,
 * an MQTT message) instead of polling.
 */
export class EventWaiters {
  readonly #pending = new Set<() => void>();

  /** Re-checks every pending wait; the owner calls it after recording something. */
  wake(): void {
    for (const attempt of [...this.#pending]) attempt();
  }

  /**
   * Resolves with the first value of `check` other than undefined/false (checked now and on every wake);
   * rejects with `failure()`'s message as soon as it returns one, or with `timeoutMessage()` after `timeoutMs`.
   */
  until<T>(
    check: () => T | undefined | false,
    timeoutMs: number,
    timeoutMessage: () => string,
    failure: () => string | null = () => null,
  ): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        const value = check();
        if (value !== undefined && value !== false) {
          done();
          resolve(value);
          return;
        }
        const failed = failure();
        if (failed !== null) {
          done();
          reject(new Error(failed));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(timeoutMessage()));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(attempt);
      };
      this.#pending.add(attempt);
      attempt();
    });
  }
}
