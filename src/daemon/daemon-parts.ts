/**
 * The daemon as a list of parts: each part is recorded when it has started, and `stopAll` stops them
 * in exactly the reverse order, once each — so the stop order is never written out a second time by
 * hand, and a start that fails half-way stops only what had started.
 */
import type { Logger } from 'pino';

export interface DaemonPart {
  /** Names the part in the log when it fails to stop. */
  readonly name: string;
  /** Releases what the part holds (processes, sockets, files, native models). */
  stop(): void | Promise<void>;
}

export class DaemonParts {
  readonly #started: DaemonPart[] = [];

  /** Records a started part; returns `value` so construction and registration read as one line. */
  started<T>(name: string, value: T, stop: (value: T) => void | Promise<void>): T {
    this.#started.push({ name, stop: () => stop(value) });
    return value;
  }

  /** Names of the started parts, in start order. */
  get names(): readonly string[] {
    return this.#started.map((p) => p.name);
  }

  /**
   * Stops every started part, last started first. A part that fails to stop is logged and the others
   * still stop (a GPIO line left driven must not keep MQTT from saying `offline`).
   */
  async stopAll(log: Logger): Promise<void> {
    for (let part = this.#started.pop(); part; part = this.#started.pop()) {
      try {
        await part.stop();
      } catch (err) {
        log.error({ part: part.name, err: (err as Error).message }, 'part did not stop cleanly');
      }
    }
  }
}
