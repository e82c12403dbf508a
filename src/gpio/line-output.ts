/**
 * The backend-independent half of an output: pulse timing, the serialized order of changes, the
 * reported state and the fail-safe close. A backend only has to drive and release the line
 * ({@link LineDriver}).
 */
import { FaceedgeError } from '../errors.js';
import type { GpioOutput, LineDriver } from './gpio-types.js';

/** Options of {@link LineOutput}. */
export interface LineOutputOptions {
  /** State at start, on stop and on crash. */
  readonly safe: boolean;
  /** Longest pulse accepted, ms. Default 60 000 (a relay held longer is a `set`, not a pulse). */
  readonly maxPulseMs?: number;
  /** Called after every applied change (including the end of a pulse and the safe state on close). */
  readonly onState?: (name: string, on: boolean) => void;
  /** Called when the driver fails; the output rejects further changes. */
  readonly onFailure?: (name: string, error: Error) => void;
}

export const DEFAULT_MAX_PULSE_MS = 60_000;

export class LineOutput implements GpioOutput {
  readonly safe: boolean;
  #current: boolean;
  #chain: Promise<unknown> = Promise.resolve();
  #pulseTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #closing: Promise<void> | null = null;
  #failure: Error | null = null;
  /** Identifies the pulse whose countdown may still start; a newer pulse or a `set` replaces it. */
  #pulseOwner: object | null = null;
  readonly #maxPulseMs: number;

  /** @param driver a line already requested and driven to `options.safe`. */
  readonly #driver: LineDriver;
  readonly #options: LineOutputOptions;

  constructor(
    readonly name: string,
    driver: LineDriver,
    options: LineOutputOptions,
  ) {
    this.#driver = driver;
    this.#options = options;
    this.safe = options.safe;
    this.#current = options.safe;
    this.#maxPulseMs = options.maxPulseMs ?? DEFAULT_MAX_PULSE_MS;
    driver.onFailure((error) => {
      this.#failure = error;
      this.#cancelPulse();
      options.onFailure?.(name, error);
    });
  }

  get state(): boolean {
    return this.#current;
  }

  set(on: boolean): Promise<void> {
    const unusable = this.#unusable();
    if (unusable) return Promise.reject(unusable);
    this.#cancelPulse();
    return this.#enqueue(on);
  }

  pulse(ms: number): Promise<void> {
    const unusable = this.#unusable();
    if (unusable) return Promise.reject(unusable);
    if (!Number.isInteger(ms) || ms <= 0 || ms > this.#maxPulseMs) {
      return Promise.reject(
        new FaceedgeError('REQUEST_INVALID', `gpio ${this.name}: pulse of ${ms} ms is out of range`, {
          hint: `give a whole number of milliseconds from 1 to ${this.#maxPulseMs} (max_pulse_ms)`,
        }),
      );
    }
    this.#cancelPulse();
    const started = this.#enqueue(true);
    // The countdown starts when the line is really on, so a slow holder does not shorten the pulse.
    const timerOwner = {};
    this.#pulseOwner = timerOwner;
    return started.then(() => {
      if (this.#pulseOwner !== timerOwner || this.#closed) return;
      this.#pulseTimer = setTimeout(() => {
        this.#pulseTimer = null;
        this.#pulseOwner = null;
        if (!this.#closed && !this.#failure) this.#enqueue(false).catch((err: unknown) => this.#pulseEndFailed(err));
      }, ms);
    });
  }

  close(): Promise<void> {
    if (this.#closed) return this.#closing!;
    this.#closed = true;
    this.#cancelPulse();
    // Queued changes finish first; then the driver drives the safe state and lets go of the line.
    this.#closing = this.#chain
      .catch(() => {})
      .then(() => this.#driver.release())
      .then(() => {
        this.#current = this.safe;
        this.#options.onState?.(this.name, this.safe);
      });
    return this.#closing;
  }

  #enqueue(on: boolean): Promise<void> {
    const run = this.#chain
      .catch(() => {})
      .then(async () => {
        if (this.#failure) throw this.#failedError();
        await this.#driver.write(on);
        this.#current = on;
        this.#options.onState?.(this.name, on);
      });
    this.#chain = run;
    return run;
  }

  /**
   * The write that ends a pulse failed: the line may still be on (a lock standing open). Take the fail-safe
   * path — release drives the safe state and lets go — and report it; the output takes no more changes.
   */
  #pulseEndFailed(err: unknown): void {
    const why = err instanceof Error ? err.message : String(err);
    this.#options.onFailure?.(
      this.name,
      new Error(`the end of a pulse could not be driven (${why}); put in its safe state`, { cause: err }),
    );
    // A release that fails too is left to the line holder's own fail-safe (it drives safe as it exits).
    this.close().catch(() => {});
  }

  #cancelPulse(): void {
    this.#pulseOwner = null;
    if (this.#pulseTimer) clearTimeout(this.#pulseTimer);
    this.#pulseTimer = null;
  }

  #unusable(): FaceedgeError | null {
    if (this.#closed) return new FaceedgeError('GPIO_FAILED', `gpio ${this.name} is closed`);
    return this.#failure ? this.#failedError() : null;
  }

  #failedError(): FaceedgeError {
    return new FaceedgeError('GPIO_FAILED', `gpio ${this.name} failed: ${this.#failure?.message}`, {
      cause: this.#failure,
      hint: 'the line is no longer driven by faceedge; check the log for why its holder stopped',
    });
  }
}
