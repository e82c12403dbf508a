/**
 * A test subscriber that records every message it receives and can wait for a condition.
 *
 *   const probe = await MqttProbe.connect(broker.url, ['faceedge/#']);
 *   const msg = await probe.waitFor((m) => m.topic.endsWith('/availability'));
 */
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import { EventWaiters } from './event-waiters.js';

export interface ProbeMessage {
  readonly topic: string;
  readonly text: string;
  readonly retain: boolean;
  readonly qos: number;
  /** Broker redelivery to this subscriber (its PUBACK was lost, e.g. across a broker restart). */
  readonly dup: boolean;
}

export class MqttProbe {
  readonly messages: ProbeMessage[] = [];
  readonly #waiters = new EventWaiters();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({
        topic,
        text: payload.toString('utf8'),
        retain: packet.retain,
        qos: packet.qos,
        dup: packet.dup,
      });
      this.#waiters.wake();
    });
  }

  /** Connects (reconnecting every 100 ms after a drop) and subscribes at QoS 1. */
  static async connect(url: string, topics: string[], options: IClientOptions = {}): Promise<MqttProbe> {
    const client = await connectAsync(url, { reconnectPeriod: 100, connectTimeout: 5000, ...options });
    const probe = new MqttProbe(client);
    if (topics.length > 0) await client.subscribeAsync(topics, { qos: 1 });
    return probe;
  }

  /** Messages on exactly `topic`. */
  on(topic: string): ProbeMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Resolves with the first recorded message (past or future) matching `match`. */
  waitFor(match: (m: ProbeMessage) => boolean, timeoutMs = 10_000, what = 'message'): Promise<ProbeMessage> {
    return this.waitUntil(() => this.messages.find(match), timeoutMs, what);
  }

  /** Resolves once `check` returns a value other than undefined/false, re-checking on each message. */
  waitUntil<T>(check: () => T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
    return this.#waiters.until(
      check,
      timeoutMs,
      () =>
        `timed out after ${timeoutMs} ms waiting for ${what}; got ${this.messages.length} messages: ${this.messages
          .slice(-10)
          .map((m) => `${m.topic}=${m.text.slice(0, 80)}`)
          .join(' | ')}`,
    );
  }

  /** Publishes (QoS 1 by default) and waits for the broker's acknowledgement. */
  async publish(topic: string, payload: string, options: { qos?: 0 | 1; retain?: boolean } = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
