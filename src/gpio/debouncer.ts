/**
 * Software debounce: a new level counts only after it has held, unchanged, for the debounce period.
 * Contacts and PIR outputs chatter for a few milliseconds around every transition; the same rule works
 * whether the raw levels come from gpiomon events or from polling sysfs.
 */

export class Debouncer {
  #stableValue: boolean | null = null;
  #candidate: boolean | null = null;
  #timer: NodeJS.Timeout | null = null;

  /**
   * @param periodMs how long a level must hold before it is accepted, ms; 0 accepts every change at once.
   * @param onStable called with each newly accepted level and the monotonic time it was accepted.
   * @param now monotonic clock, ms (default `performance.now()`).
   */
  readonly #periodMs: number;
  readonly #onStable: (value: boolean, timeMs: number) => void;
  readonly #now: () => number;

  constructor(
    periodMs: number,
    onStable: (value: boolean, timeMs: number) => void,
    now: () => number = () => performance.now(),
  ) {
    this.#periodMs = periodMs;
    this.#onStable = onStable;
    this.#now = now;
  }

  /** The accepted level; null before {@link reset}. */
  get value(): boolean | null {
    return this.#stableValue;
  }

  /** Sets the accepted level without an event (the level read at start). */
  reset(value: boolean): void {
    this.cancel();
    this.#stableValue = value;
  }

  /** Feeds one raw level. */
  sample(value: boolean): void {
    if (this.#stableValue === null) {
      this.#stableValue = value;
      return;
    }
    if (value === this.#stableValue) {
      // Bounced back before the period ended: the change never happened.
      this.cancel();
      return;
    }
    if (this.#periodMs <= 0) {
      this.#accept(value);
      return;
    }
    if (this.#candidate === value && this.#timer) return;
    this.cancel();
    this.#candidate = value;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#accept(value);
    }, this.#periodMs);
  }

  /** Drops a pending change (on close). */
  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#candidate = null;
  }

  #accept(value: boolean): void {
    this.#candidate = null;
    this.#stableValue = value;
    this.#onStable(value, this.#now());
  }
}
