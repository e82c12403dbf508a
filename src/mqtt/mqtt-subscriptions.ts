/**
 * The extra topics the daemon listens to (GPIO commands, Home Assistant's birth message, model pushes):
 * handlers by subscription filter, so MqttOutput can subscribe them all again after every reconnect
 * (a clean session forgets them) and hand each incoming message to every matching handler.
 */
import type { Logger } from 'pino';
import { topicMatches } from './mqtt-topics.js';

/** A message on a subscribed topic; `retained` when the broker replayed a stored message. */
export type MqttMessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

export class MqttSubscriptions {
  readonly #handlers = new Map<string, Set<MqttMessageHandler>>();

  readonly #log: Logger;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Subscription filters with at least one handler. */
  get filters(): string[] {
    return [...this.#handlers.keys()];
  }

  /**
   * Adds a handler; `added` is true when the filter is new (the caller subscribes it on the broker).
   * `remove()` returns true when that was the filter's last handler (the caller unsubscribes).
   */
  add(filter: string, handler: MqttMessageHandler): { added: boolean; remove: () => boolean } {
    let set = this.#handlers.get(filter);
    const added = set === undefined;
    if (!set) this.#handlers.set(filter, (set = new Set()));
    set.add(handler);
    const own = set;
    return {
      added,
      remove: () => {
        own.delete(handler);
        if (own.size > 0 || this.#handlers.get(filter) !== own) return false;
        this.#handlers.delete(filter);
        return true;
      },
    };
  }

  /** Calls every handler whose filter matches `topic`; a handler that throws is logged and the rest still run. */
  dispatch(topic: string, payload: Buffer, retained: boolean): void {
    for (const [filter, set] of this.#handlers) {
      if (!topicMatches(filter, topic)) continue;
      for (const handler of set) {
        try {
          handler(topic, payload, retained);
        } catch (err) {
          this.#log.error({ err, topic }, 'MQTT message handler threw');
        }
      }
    }
  }
}
