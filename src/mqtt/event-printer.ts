/**
 * A tiny subscriber for `faceedge run --demo`: subscribes to `<base>/<dev>/+/events` and prints one
 * readable line per event, so the demo shows exactly what any MQTT consumer would receive.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { MqttTopics } from './mqtt-topics.js';

export interface EventPrinterOptions {
  readonly url: string;
  readonly baseTopic: string;
  readonly deviceId: string;
  /** Receives each line (no trailing newline). Default: write to stdout. */
  readonly write?: (line: string) => void;
  readonly log: Logger;
  /** Extra connection options (credentials, TLS). */
  readonly connectOptions?: IClientOptions;
}

function num(v: unknown, digits: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '?';
}

function clock(epochSeconds: unknown): string {
  if (typeof epochSeconds !== 'number') return '--:--:--';
  return new Date(epochSeconds * 1000).toISOString().slice(11, 19);
}

/**
 * `12:03:04 door NEW    door-3 female 0.91 (top 0.95) box 120,80 64x64 frames 3 #17` for an event
 * payload; anything unparseable is shown raw so the demo never hides a malformed message.
 */
export function formatEventLine(topic: string, payload: string): string {
  let e: Record<string, any>;
  try {
    e = JSON.parse(payload) as Record<string, any>;
  } catch {
    return `${topic}: ${payload}`;
  }
  const a = e.after as Record<string, any> | undefined;
  if (typeof e !== 'object' || e === null || !a || typeof a !== 'object') return `${topic}: ${payload}`;
  const box = a.box
    ? `box ${num(a.box.x, 0)},${num(a.box.y, 0)} ${num(a.box.width, 0)}x${num(a.box.height, 0)}`
    : 'box ?';
  const when = e.type === 'end' ? a.end_time : e.type === 'new' ? a.start_time : Date.now() / 1000;
  const lasted =
    e.type === 'end' && typeof a.end_time === 'number' && typeof a.start_time === 'number'
      ? ` lasted ${(a.end_time - a.start_time).toFixed(1)}s`
      : '';
  return [
    clock(when),
    String(a.camera ?? '?'),
    String(e.type ?? '?')
      .toUpperCase()
      .padEnd(6),
    String(a.id ?? '?'),
    `${a.class ?? '?'} ${num(a.score, 2)} (top ${num(a.top_score, 2)})`,
    box,
    `frames ${a.frames ?? '?'}${lasted}`,
    e.seq !== undefined ? `#${e.seq}` : '',
  ]
    .filter((p) => p !== '')
    .join(' ');
}

export class EventPrinter {
  #client: MqttClient | null = null;

  readonly #options: EventPrinterOptions;

  constructor(options: EventPrinterOptions) {
    this.#options = options;
  }

  /** Connects and subscribes; resolves once the subscription is active. */
  async start(): Promise<void> {
    if (this.#client) return;
    const topics = new MqttTopics(this.#options.baseTopic, this.#options.deviceId);
    const write = this.#options.write ?? ((line: string) => process.stdout.write(line + '\n'));
    const client = await mqtt.connectAsync(this.#options.url, {
      clientId: `faceedge-printer-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 1000,
      ...this.#options.connectOptions,
      // Our connect handler subscribes again; MQTT.js doing it too would double up.
      resubscribe: false,
    });
    this.#client = client;
    client.on('message', (topic, payload) => write(formatEventLine(topic, payload.toString('utf8'))));
    client.on('error', (err) => this.#options.log.warn({ err: err.message }, 'event printer MQTT error'));
    // Subscribe again after each reconnect (clean session: the broker forgot us).
    client.on('connect', (connack) => {
      if (!connack.sessionPresent) client.subscribe(topics.eventsFilter, { qos: 1 });
    });
    await client.subscribeAsync(topics.eventsFilter, { qos: 1 });
  }

  /** Disconnects. Idempotent. */
  async stop(): Promise<void> {
    const client = this.#client;
    this.#client = null;
    if (client) await client.endAsync(true);
  }
}
