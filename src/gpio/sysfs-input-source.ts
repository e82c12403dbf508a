/**
 * Raw levels of an input line through sysfs, by polling its `value` file. The kernel signals edges on
 * that file with POLLPRI, which Node cannot wait for without a native addon; a PIR sensor or a door
 * contact changes a few times a minute, so reading a small file every few milliseconds costs nothing
 * and the debounce downstream is the same either way. Pull resistors cannot be set through sysfs
 * (use `gpio=<n>=ip,pd` in the Pi's config.txt or a device-tree overlay).
 */
import type { RawInputSource } from './gpio-types.js';
import { SysfsLine } from './sysfs-line.js';

/** Options of {@link SysfsInputSource}. */
export interface SysfsInputOptions {
  readonly root: string;
  /** Global line number (chip base + offset). */
  readonly number: number;
  readonly activeLow: boolean;
  /** Time between reads, ms. Default 10. */
  readonly pollMs?: number;
  /** Told about read errors (the poll goes on). */
  readonly onProblem?: (message: string) => void;
}

export class SysfsInputSource implements RawInputSource {
  #line: SysfsLine | null = null;
  #timer: NodeJS.Timeout | null = null;
  #reading = false;
  #last: boolean | null = null;
  #stopped = false;
  #lastProblem = '';

  readonly #options: SysfsInputOptions;

  constructor(options: SysfsInputOptions) {
    this.#options = options;
  }

  async start(onLevel: (value: boolean, timeMs: number) => void): Promise<boolean> {
    const line = await SysfsLine.export(this.#options.root, this.#options.number);
    this.#line = line;
    await line.write('active_low', this.#options.activeLow ? '1' : '0');
    await line.write('direction', 'in');
    // Lets other tools poll() the file; lines without an interrupt refuse it, which is fine here.
    await line.write('edge', 'both').catch(() => {});
    this.#last = await line.readValue();
    // #poll reports a failed read through onProblem and never rejects; the next tick reads again.
    this.#timer = setInterval(() => void this.#poll(onLevel), this.#options.pollMs ?? 10);
    return this.#last;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#line?.unexport();
  }

  async #poll(onLevel: (value: boolean, timeMs: number) => void): Promise<void> {
    if (this.#reading || this.#stopped || !this.#line) return;
    this.#reading = true;
    try {
      const value = await this.#line.readValue();
      if (!this.#stopped && value !== this.#last) {
        this.#last = value;
        onLevel(value, performance.now());
      }
      this.#lastProblem = '';
    } catch (err) {
      // Report a failing read once, not every 10 ms.
      const message = (err as Error).message;
      if (message !== this.#lastProblem) this.#options.onProblem?.(message);
      this.#lastProblem = message;
    } finally {
      this.#reading = false;
    }
  }
}
