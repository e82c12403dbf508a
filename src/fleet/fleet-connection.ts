/**
 * The operator's connection to the fleet's broker: keeps a FleetView current from the boards' retained
 * status topics and sends bridge requests to single boards, matching each response by its transaction.
 *
 *   const fleet = await FleetConnection.open({ url, baseTopic: 'faceedge' });
 *   await fleet.settle();  fleet.view.boards();
 *   const r = await fleet.request('door-1', 'health_check');
 *   await fleet.close();
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { FaceedgeError } from '../errors.js';
import type { BridgeResponse } from '../mqtt/bridge-dispatcher.js';
import { FleetTopics } from '../mqtt/mqtt-topics.js';
import { FleetView } from './fleet-view.js';

/** Operator credentials for the broker (`faceedge fleet credentials` makes them). */
export interface OperatorAuth {
  readonly username?: string;
  readonly password?: string;
  /** PEM files: the broker's CA; a client certificate and its key (mutual TLS). */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface FleetConnectionOptions {
  readonly url: string;
  /** Boards' `mqtt.base_topic`. Default `faceedge`. */
  readonly baseTopic?: string;
  readonly auth?: OperatorAuth;
  /** Extra MQTT.js options (tests). */
  readonly mqtt?: IClientOptions;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new FaceedgeError('USAGE', `cannot read the ${what} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** MQTT.js options for an operator connection (MQTT 5, clean session, quick reconnects). */
export function operatorClientOptions(auth: OperatorAuth = {}): IClientOptions {
  const o: IClientOptions = {
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
    clientId: `faceedge-fleet-${randomBytes(6).toString('hex')}`,
  };
  if (auth.username !== undefined) o.username = auth.username;
  if (auth.password !== undefined) o.password = auth.password;
  if (auth.ca) o.ca = readPem(auth.ca, 'CA certificate');
  if (auth.cert) o.cert = readPem(auth.cert, 'client certificate');
  if (auth.key) o.key = readPem(auth.key, 'client key');
  return o;
}

export class FleetConnection {
  readonly view: FleetView;
  readonly topics: FleetTopics;
  readonly #client: MqttClient;
  readonly #listeners = new Set<(device: string) => void>();
  readonly #pending = new Map<string, (r: BridgeResponse) => void>();
  readonly #responseSubscriptions = new Map<string, Promise<unknown>>();
  #lastStatusAt = Date.now();

  private constructor(client: MqttClient, topics: FleetTopics) {
    this.#client = client;
    this.topics = topics;
    this.view = new FleetView(topics);
    client.on('message', (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
  }

  /** Connects and subscribes to every board's retained status topics. */
  static async open(o: FleetConnectionOptions): Promise<FleetConnection> {
    let client: MqttClient;
    try {
      client = await mqtt.connectAsync(o.url, { ...operatorClientOptions(o.auth), ...o.mqtt });
    } catch (cause) {
      throw new FaceedgeError('MQTT_FAILED', `cannot connect to ${o.url}: ${(cause as Error).message}`, {
        hint: 'check --mqtt and the operator credentials',
        cause,
      });
    }
    const fleet = new FleetConnection(client, new FleetTopics(o.baseTopic));
    await client.subscribeAsync(fleet.topics.statusFilters, { qos: 1 });
    return fleet;
  }

  /** Calls `listener(device)` whenever a board's status changes. Returns the unsubscribe. */
  onChange(listener: (device: string) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * Resolves once no retained status message arrived for `quietMs` (the broker has sent its snapshot),
   * or after `maxMs`. Defaults 250 / 5000 ms: 50 boards' retained topics arrive in well under a second.
   */
  async settle(quietMs = 250, maxMs = 5000): Promise<void> {
    const deadline = Date.now() + maxMs;
    this.#lastStatusAt = Date.now();
    while (Date.now() < deadline && Date.now() - this.#lastStatusAt < quietMs) {
      await new Promise((r) => setTimeout(r, Math.min(50, quietMs)));
    }
  }

  /**
   * Sends `command` to one board and resolves with its response (status ok or error), or rejects with
   * `MQTT_FAILED` when none comes within `timeoutMs` (board offline, not subscribed, ACL).
   */
  async request(
    device: string,
    command: string,
    params: Record<string, unknown> = {},
    timeoutMs = 15_000,
  ): Promise<BridgeResponse> {
    const t = this.topics.device(device);
    const responseTopic = t.bridgeResponse(command);
    let sub = this.#responseSubscriptions.get(responseTopic);
    if (!sub) {
      sub = this.#client.subscribeAsync(responseTopic, { qos: 1 });
      this.#responseSubscriptions.set(responseTopic, sub);
    }
    await sub;
    const transaction = `fleet-${randomBytes(8).toString('hex')}`;
    const answer = new Promise<BridgeResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(transaction);
        reject(
          new FaceedgeError('MQTT_FAILED', `${device}: no answer to ${command} within ${timeoutMs} ms`, {
            hint: 'is the board online on this broker?',
          }),
        );
      }, timeoutMs);
      this.#pending.set(transaction, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
    await this.#client.publishAsync(t.bridgeRequest(command), JSON.stringify({ ...params, transaction }), { qos: 1 });
    return answer;
  }

  async close(): Promise<void> {
    await this.#client.endAsync(true).catch(() => undefined);
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const parsed = this.topics.parse(topic);
    if (parsed && parsed.rest[0] === 'bridge' && parsed.rest[1] === 'response') {
      try {
        const r = JSON.parse(payload.toString()) as BridgeResponse;
        const resolve = typeof r.transaction === 'string' ? this.#pending.get(r.transaction) : undefined;
        if (resolve) {
          this.#pending.delete(r.transaction as string);
          resolve(r);
        }
      } catch {
        // not JSON: not an answer to us
      }
      return;
    }
    const device = this.view.ingest(topic, payload, retained);
    if (device === null) return;
    // Only the retained snapshot counts for settle(): live stats from a busy fleet never go quiet.
    if (retained) this.#lastStatusAt = Date.now();
    for (const l of this.#listeners) l(device);
  }
}
