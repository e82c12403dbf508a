/**
 * The GPIO interface every backend (sysfs, the libgpiod character-device tools) implements. Values are
 * logical: `true` is "active" (on), and a line declared active-low is inverted by the backend, so the
 * rest of faceedge never thinks about electrical levels.
 */

/** Which edges of an input are reported as events. */
export type GpioEdge = 'rising' | 'falling' | 'both';

/** Pull resistor requested for an input; `as-is` leaves the board's setting alone. */
export type GpioBias = 'as-is' | 'disabled' | 'pull-up' | 'pull-down';

/** A line faceedge drives: a relay, a LED, a lock strike. */
export interface GpioOutput {
  /** Config name (`relay`), also the MQTT topic level `gpio/<name>/…`. */
  readonly name: string;
  /** Logical state last applied to the line (true = on). Equals {@link safe} before the first change. */
  readonly state: boolean;
  /** The state the line is put in at start, on stop, on crash and when the config is lost. */
  readonly safe: boolean;
  /** Drives the line on or off; cancels a pulse in progress. Resolves once the line has the value. */
  set(on: boolean): Promise<void>;
  /**
   * Turns the line on now and off after `ms` milliseconds (a new pulse restarts the countdown, `set`
   * cancels it). Resolves once the line is on; the end of the pulse is reported through state changes.
   * @throws FaceedgeError `REQUEST_INVALID` when `ms` is not a positive integer up to the output's limit.
   */
  pulse(ms: number): Promise<void>;
  /** Puts the line in its safe state and releases it. Idempotent; later `set`/`pulse` reject. */
  close(): Promise<void>;
}

/** One debounced edge of an input. */
export interface GpioInputEvent {
  readonly name: string;
  /** The new logical value (true after a rising edge). */
  readonly value: boolean;
  readonly edge: 'rising' | 'falling';
  /** Monotonic ms (`performance.now()`) at which the value became stable. */
  readonly timeMs: number;
}

/** A line faceedge watches: a PIR sensor, a door contact, a button. */
export interface GpioInput {
  readonly name: string;
  /** The debounced logical value; null until the first read. */
  readonly value: boolean | null;
  /** Calls `listener` on every debounced edge of the configured kind; returns the unsubscribe. */
  onEdge(listener: (event: GpioInputEvent) => void): () => void;
  /** Calls `listener` on every debounced change, whatever the edge filter (for state and rules). */
  onChange(listener: (event: GpioInputEvent) => void): () => void;
  /** Stops watching and releases the line. Idempotent. */
  close(): Promise<void>;
}

/**
 * What a backend supplies for one output line: the line is already requested and driven to the safe
 * state when the driver is handed over.
 */
export interface LineDriver {
  /** Drives logical `on`; resolves once the line has it. Calls are never overlapped by the caller. */
  write(on: boolean): Promise<void>;
  /** Drives the safe state and releases the line; resolves when done. Idempotent. */
  release(): Promise<void>;
  /** Called at most once if the driver fails on its own (its holder process died). */
  onFailure(listener: (error: Error) => void): void;
}

/** What a backend supplies for one input line: raw (undebounced) logical levels. */
export interface RawInputSource {
  /**
   * Starts watching; `onLevel` gets every raw level change with its monotonic arrival time.
   * Resolves with the level read at start.
   */
  start(onLevel: (value: boolean, timeMs: number) => void): Promise<boolean>;
  /** Stops watching and releases the line. Idempotent. */
  stop(): Promise<void>;
}
