/**
 * Moves events from the outbox to the broker: QoS 1, in seq order, at most `maxInflight` unacknowledged
 * at a time, and acknowledges an event in the outbox only from its PUBACK callback.
 *
 * Nothing is handed to MQTT.js while disconnected, so its in-memory queue never grows with an outage;
 * the disk outbox is the only queue. Events already in flight when the link drops stay in MQTT.js's
 * outgoing store, which resends them first on reconnect, in order, and then calls our callbacks.
 */
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { EventOutbox } from './event-outbox.js';

export interface OutboxDrainerOptions {
  readonly outbox: EventOutbox;
  readonly client: MqttClient;
  readonly log: Logger;
  /** Events published but not yet acknowledged, at most. Default 16. */
  readonly maxInflight?: number;
  /** Called after every acknowledgement with the new outbox depth (for the queue-depth gauge). */
  readonly onDepth?: (depth: number) => void;
}

export class OutboxDrainer {
  #nextSeq = 0;
  readonly #inflight = new Set<number>();
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  readonly #options: OutboxDrainerOptions;

  constructor(options: OutboxDrainerOptions) {
    this.#options = options;
  }

  /** Events handed to MQTT.js and not yet acknowledged. */
  get inflightCount(): number {
    return this.#inflight.size;
  }

  /** Sends what the window allows. Call after each append and on every (re)connect. */
  kick(): void {
    const { outbox, client } = this.#options;
    const max = this.#options.maxInflight ?? 16;
    while (!this.#stopped && client.connected && this.#inflight.size < max) {
      const batch = outbox
        .pendingFrom(this.#nextSeq, max - this.#inflight.size)
        .filter((e) => !this.#inflight.has(e.seq));
      if (batch.length === 0) break;
      for (const entry of batch) {
        this.#inflight.add(entry.seq);
        this.#nextSeq = entry.seq + 1;
        client.publish(entry.topic, JSON.stringify(entry.payload), { qos: 1 }, (err) => this.#done(entry.seq, err));
      }
    }
    this.#notifyIfIdle();
  }

  /** Resolves once the outbox is empty and nothing is in flight, or after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.push(done);
    });
  }

  /** Stops sending; callbacks that arrive later are ignored (their events stay in the outbox). */
  stop(): void {
    this.#stopped = true;
  }

  #done(seq: number, err: Error | undefined): void {
    this.#inflight.delete(seq);
    if (this.#stopped) return;
    if (err) {
      // MQTT.js gave the message up (e.g. "Connection closed" while replaying its store): send it again.
      this.#options.log.warn({ seq, err: err.message }, 'event publish failed; will resend');
      this.#nextSeq = Math.min(this.#nextSeq, seq);
      return;
    }
    this.#options.outbox.ack(seq);
    this.#options.onDepth?.(this.#options.outbox.depth);
    this.kick();
  }

  #isIdle(): boolean {
    return this.#inflight.size === 0 && this.#options.outbox.depth === 0;
  }

  #notifyIfIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const w of waiters) w();
  }
}
