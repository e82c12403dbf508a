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

/**
 * MQTT 5 PUBACK reason codes that refuse this message for good, by name (MQTT 5 §3.4.2.1): resending the same
 * event to the same topic gets the same answer, so it is dropped and counted instead of blocking every later
 * event. Quota exceeded (0x97), server busy (0x89) and a lost connection heal by waiting and are retried.
 */
export const PERMANENT_PUBACK_REFUSALS: ReadonlyMap<number, string> = new Map([
  [0x87, 'not_authorized'],
  [0x90, 'topic_name_invalid'],
  [0x95, 'packet_too_large'],
  [0x99, 'payload_format_invalid'],
]);

export interface OutboxDrainerOptions {
  readonly outbox: EventOutbox;
  readonly client: MqttClient;
  readonly log: Logger;
  /** Events published but not yet acknowledged, at most. Default 16. */
  readonly maxInflight?: number;
  /** Called after every acknowledgement with the new outbox depth (for the queue-depth gauge). */
  readonly onDepth?: (depth: number) => void;
  /**
   * Called for an event the broker refused for good (`PERMANENT_PUBACK_REFUSALS`), with the refusal's name;
   * the event has been removed from the outbox.
   */
  readonly onRefused?: (reason: string) => void;
}

export class OutboxDrainer {
  #nextSeq = 0;
  readonly #inflight = new Set<number>();
  #stopped = false;
  #idleWaiters: (() => void)[] = [];
  /** Refusal reasons already logged: one error per kind, not one per event (a denied topic refuses them all). */
  readonly #loggedRefusals = new Set<string>();

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

  #done(seq: number, err: (Error & { code?: unknown }) | undefined): void {
    this.#inflight.delete(seq);
    if (this.#stopped) return;
    const refusal = err && typeof err.code === 'number' ? PERMANENT_PUBACK_REFUSALS.get(err.code) : undefined;
    if (err && refusal !== undefined) {
      this.#drop(seq, refusal, err);
      return;
    }
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

  #drop(seq: number, reason: string, err: Error & { code?: unknown }): void {
    const { outbox, log } = this.#options;
    const topic = outbox.pendingFrom(seq, 1).find((e) => e.seq === seq)?.topic;
    if (!this.#loggedRefusals.has(reason)) {
      this.#loggedRefusals.add(reason);
      log.error(
        { seq, topic, code: err.code, reason, err: err.message },
        'the broker refused an event for good (MQTT 5 PUBACK reason code): dropping it and counting the others',
      );
    }
    outbox.ack(seq);
    this.#options.onRefused?.(reason);
    this.#options.onDepth?.(outbox.depth);
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
