/**
 * The thresholds an operator changes at run time (bridge `options`, src/config/runtime-options.ts): their
 * current values, read by bridge/info and by cameras as they are built, and each change announced on the bus
 * (`optionsChanged`), where the detector, the cameras and bridge/info pick it up.
 */
import { applyRuntimeOptionsPatch, type RuntimeOptions, type RuntimeOptionsPatch } from '../config/runtime-options.js';
import type { DaemonBus } from './daemon-bus.js';

export class RunTimeTuning {
  #current: RuntimeOptions;
  readonly #bus: DaemonBus;

  /** @param initial the configured values (`detector`, `tracker`). */
  constructor(initial: RuntimeOptions, bus: DaemonBus) {
    this.#current = Object.freeze(initial);
    this.#bus = bus;
  }

  get current(): RuntimeOptions {
    return this.#current;
  }

  /** Applies a validated patch, tells the bus, and returns the values now in force. */
  apply(patch: RuntimeOptionsPatch): RuntimeOptions {
    this.#current = applyRuntimeOptionsPatch(this.#current, patch);
    this.#bus.emit('optionsChanged', this.#current);
    return this.#current;
  }
}
