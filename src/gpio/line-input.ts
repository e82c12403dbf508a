/**
 * The backend-independent half of an input: debounce, the edge filter and listeners over the raw levels
 * a backend reports ({@link RawInputSource}).
 */
import { Debouncer } from './debouncer.js';
import type { GpioEdge, GpioInput, GpioInputEvent, RawInputSource } from './gpio-types.js';

/** Options of {@link LineInput.open}. */
export interface LineInputOptions {
  /** Edges reported to listeners. Default `both`. The value tracks every accepted change regardless. */
  readonly edge?: GpioEdge;
  /** A level must hold this long before it counts, ms. Default 50. */
  readonly debounceMs?: number;
}

export const DEFAULT_DEBOUNCE_MS = 50;

export class LineInput implements GpioInput {
  readonly #listeners = new Set<(event: GpioInputEvent) => void>();
  readonly #changeListeners = new Set<(event: GpioInputEvent) => void>();
  readonly #debouncer: Debouncer;
  #closed = false;

  readonly #source: RawInputSource;
  readonly #edge: GpioEdge;

  private constructor(
    readonly name: string,
    source: RawInputSource,
    edge: GpioEdge,
    debounceMs: number,
  ) {
    this.#source = source;
    this.#edge = edge;
    this.#debouncer = new Debouncer(debounceMs, (value, timeMs) => this.#emit(value, timeMs));
  }

  /** Starts `source` and resolves once the initial level is known. */
  static async open(name: string, source: RawInputSource, options: LineInputOptions = {}): Promise<LineInput> {
    const input = new LineInput(name, source, options.edge ?? 'both', options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
    const initial = await source.start((value) => {
      if (!input.#closed) input.#debouncer.sample(value);
    });
    input.#debouncer.reset(initial);
    return input;
  }

  get value(): boolean | null {
    return this.#debouncer.value;
  }

  onEdge(listener: (event: GpioInputEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onChange(listener: (event: GpioInputEvent) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#debouncer.cancel();
    this.#listeners.clear();
    this.#changeListeners.clear();
    await this.#source.stop();
  }

  #emit(value: boolean, timeMs: number): void {
    const edge = value ? 'rising' : 'falling';
    const event: GpioInputEvent = { name: this.name, value, edge, timeMs };
    for (const listener of this.#changeListeners) listener(event);
    if (this.#edge !== 'both' && this.#edge !== edge) return;
    for (const listener of this.#listeners) listener(event);
  }
}
