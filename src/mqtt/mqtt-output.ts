/**
 * The daemon's MQTT side (DESIGN.md contract): availability with a last will, retained bridge/info,
 * track events through the persistent outbox, retained face/capture states, and bridge requests answered
 * by the BridgeDispatcher. Everything retained is republished on every (re)connect, because a broker
 * restarted without persistence has forgotten it. Its counters (outbox depth, events stored, online since)
 * are what the stats part reports (src/daemon/parts/stats-part.ts).
 *
 * The broker being down never blocks or fails the pipeline: events wait on disk, states are
 * remembered and sent on reconnect, one-off messages are refused at once.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { FaceedgeError, isFaceedgeError } from '../errors.js';
import { disclosedSnapshot, type TrackEvent } from '../pipeline/track-event.js';
import { redactUrl } from '../observability/redact-url.js';
import type { AuditTrail } from './audit-trail.js';
import { BridgeDispatcher } from './bridge-dispatcher.js';
import { BrokerConnection, type BrokerProblem } from './broker-connection.js';
import { EventOutbox, type OutboxEntry } from './event-outbox.js';
import { buildMqttClientOptions, type MqttConnectionConfig } from './mqtt-client-options.js';
import type { BridgeInfo } from './mqtt-payloads.js';
import { MqttSubscriptions, type MqttMessageHandler } from './mqtt-subscriptions.js';
import { MqttTopics, topicMatches } from './mqtt-topics.js';
import { OutboxDrainer } from './outbox-drainer.js';
import { EXTERNAL_BROKER_ORIGINS, type RequestOrigin, type RequestOrigins } from './request-origins.js';
import { errorLogFields } from '../observability/error-log-fields.js';

/** The metrics MqttOutput reports; DaemonMetrics implements them. */
export interface MqttOutputMetrics {
  setQueueDepth(depth: number): void;
  setBrokerConnected(connected: boolean): void;
  countOutboxDropped(count: number): void;
  /** One event the broker refused for good (MQTT 5 PUBACK reason), by reason name. */
  countOutboxRefused(reason: string): void;
  countEvent(camera: string, type: string): void;
}

export interface MqttOutputOptions {
  /** Broker URL (the configured one, or the embedded broker's). */
  readonly url: string;
  /** The `mqtt` config slice. */
  readonly mqtt: MqttConnectionConfig & {
    readonly base_topic: string;
    readonly outbox: { readonly dir: string; readonly max_events: number };
  };
  readonly deviceId: string;
  /** Called on every connect and by `republishInfo()`; may change over time (model reload). */
  readonly bridgeInfo: () => BridgeInfo | Promise<BridgeInfo>;
  readonly log: Logger;
  /** Handlers of `bridge/request/<cmd>`. Default: a new, empty dispatcher auditing to `audit` (see `bridge`). */
  readonly dispatcher?: BridgeDispatcher;
  /** Where requests that change the board are recorded (`bridge`, and handlers given an origin). Default: nowhere. */
  readonly audit?: AuditTrail;
  /**
   * Who sent each request (`MqttTopics.requestFilters`): the embedded broker's ledger, or, by default, what an
   * external broker tells (nobody: its ACL decided).
   */
  readonly origins?: RequestOrigins;
  readonly metrics?: MqttOutputMetrics;
  /** Events in flight without PUBACK. Default 16. */
  readonly maxInflight?: number;
  /** How long `stop()` waits for undelivered events and the `offline` message, ms. Default 2000. */
  readonly stopTimeoutMs?: number;
  /**
   * The largest packet the broker may send the daemon, bytes (MQTT 5 `maximumPacketSize`: the client then
   * speaks MQTT 5). For an external broker, which may hold a peer's huge retained message; absent: MQTT 3.1.1,
   * no bound (the embedded broker, which bounds every packet as it arrives).
   */
  readonly maxIncomingPacketBytes?: number;
}

interface Session {
  readonly client: MqttClient;
  readonly outbox: EventOutbox;
  readonly drainer: OutboxDrainer;
}

export class MqttOutput {
  readonly topics: MqttTopics;
  /** Register request handlers here before or after start. */
  readonly bridge: BridgeDispatcher;
  /** The client, the outbox and its drainer: all three exist from `start()` on, or none does. */
  #session: Session | null = null;
  /** Per camera: events stored since start and the wall time (s) of the last one. */
  readonly #eventCounts = new Map<string, { total: number; last: number }>();
  /** Events the broker refused for good since start, by reason (`PERMANENT_PUBACK_REFUSALS`). */
  readonly #refusedEvents = new Map<string, number>();
  /** Wall time (s) of the current connection, null while disconnected. */
  #connectedSince: number | null = null;
  /** Retained states (face, capture, GPIO, HA discovery) by topic, resent on every connect. */
  readonly #retained = new Map<string, string>();
  readonly #subscriptions: MqttSubscriptions;
  readonly #connection: BrokerConnection;
  /** The broker URL without its password: the only spelling that is logged or put in an error. */
  readonly #safeUrl: string;
  #stopping: Promise<void> | null = null;

  readonly #options: MqttOutputOptions;

  constructor(options: MqttOutputOptions) {
    this.#options = options;
    this.topics = new MqttTopics(options.mqtt.base_topic, options.deviceId);
    this.bridge = options.dispatcher ?? new BridgeDispatcher(options.log, options.audit ?? null);
    this.#subscriptions = new MqttSubscriptions(options.log);
    this.#safeUrl = redactUrl(options.url);
    this.#connection = new BrokerConnection({
      url: this.#safeUrl,
      reconnectPeriodMs: options.mqtt.reconnect_period_ms,
      log: options.log,
      queued: () => this.queueDepth,
    });
  }

  /**
   * The MQTT.js client, null before start: for tests that must cut the connection from inside the process.
   * Publish through the methods below, which keep the outbox, the retained states and the subscriptions.
   */
  get client(): MqttClient | null {
    return this.#session?.client ?? null;
  }

  get connected(): boolean {
    return this.#session?.client.connected ?? false;
  }

  /** Why the broker is not connected (a refused login, an unreachable broker); null while connected. */
  get brokerProblem(): BrokerProblem | null {
    return this.connected ? null : this.#connection.problem;
  }

  /** Events stored and not yet acknowledged by the broker. */
  get queueDepth(): number {
    return this.#session?.outbox.depth ?? 0;
  }

  /** Per camera: events stored in the outbox since start, and the wall clock (s since the epoch) of the last. */
  get storedEvents(): ReadonlyMap<string, { readonly total: number; readonly last: number }> {
    return this.#eventCounts;
  }

  /** Events the broker refused for good (MQTT 5 PUBACK) and that were dropped since start, by reason. */
  get refusedEvents(): ReadonlyMap<string, number> {
    return this.#refusedEvents;
  }

  /** Wall clock (s since the epoch) at which the current connection started; null while disconnected. */
  get onlineSince(): number | null {
    return this.#connectedSince;
  }

  /**
   * Opens the outbox and starts connecting; returns without waiting for the broker, which may be down.
   * Throws FaceedgeError `MQTT_FAILED` for an unusable outbox directory, TLS file or URL.
   */
  async start(): Promise<void> {
    if (this.#session) return;
    const { mqtt: cfg, log, metrics } = this.#options;
    const outbox = EventOutbox.open({
      dir: cfg.outbox.dir,
      maxEvents: cfg.outbox.max_events,
      log,
      onDrop: (n) => metrics?.countOutboxDropped(n),
    });
    let client: MqttClient;
    try {
      const will = { topic: this.topics.availability, payload: 'offline' };
      const clientOptions = buildMqttClientOptions(cfg, will, this.#options.maxIncomingPacketBytes);
      client = mqtt.connect(this.#options.url, clientOptions);
    } catch (err) {
      outbox.close();
      if (isFaceedgeError(err)) throw err;
      throw new FaceedgeError('MQTT_FAILED', `cannot connect to ${this.#safeUrl}: ${(err as Error).message}`, {
        hint: 'check mqtt.url (mqtt://host:1883, mqtts://host:8883)',
        cause: err,
      });
    }
    const drainer = new OutboxDrainer({
      outbox,
      client,
      log,
      maxInflight: this.#options.maxInflight,
      onDepth: (d) => metrics?.setQueueDepth(d),
      onRefused: (reason) => {
        this.#refusedEvents.set(reason, (this.#refusedEvents.get(reason) ?? 0) + 1);
        metrics?.countOutboxRefused(reason);
      },
    });
    const session: Session = { client, outbox, drainer };
    this.#session = session;
    metrics?.setQueueDepth(outbox.depth);
    client.on('connect', () => this.#onConnect(session));
    client.on('close', () => {
      this.#connectedSince = null;
      if (this.#options.metrics) this.#options.metrics.setBrokerConnected(false);
    });
    this.#connection.watch(client);
    client.on('message', (topic, payload, packet) => this.#onMessage(topic, payload, packet.retain));
    log.info({ url: this.#safeUrl, clientId: cfg.client_id, root: this.topics.root }, 'MQTT connecting');
  }

  /** Resolves when connected; rejects with FaceedgeError `MQTT_FAILED` after `timeoutMs`. */
  waitConnected(timeoutMs = 10_000): Promise<void> {
    const client = this.#session?.client;
    if (!client) return Promise.reject(new FaceedgeError('MQTT_FAILED', 'MqttOutput is not started'));
    if (client.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        client.off('connect', onConnect);
        const last = this.#connection.lastError;
        reject(
          new FaceedgeError(
            'MQTT_FAILED',
            `not connected to ${this.#safeUrl} after ${timeoutMs} ms${last ? `: ${last}` : ''}`,
            { hint: this.#connection.problem?.hint },
          ),
        );
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      client.once('connect', onConnect);
    });
  }

  /**
   * Stores a track event durably and sends it when the broker allows (QoS 1, in order). Returns the
   * stored entry, or null when the disk write failed (logged; the pipeline keeps running).
   */
  publishEvent(event: TrackEvent): OutboxEntry | null {
    const session = this.#session;
    if (!session || this.#stopping) return null;
    // frame_timestamp_ms is this process's monotonic clock: meaningless to subscribers.
    const { frame_timestamp_ms: _monotonic, ...rest } = event;
    // An unmatched face's similarity stays on the board (disclosedSimilarity says why).
    const body = {
      ...rest,
      before: rest.before && disclosedSnapshot(rest.before),
      after: disclosedSnapshot(rest.after),
    };
    let entry: OutboxEntry;
    try {
      entry = session.outbox.append(this.topics.events(event.after.camera), body as unknown as Record<string, unknown>);
    } catch (err) {
      this.#options.log.error(
        { ...errorLogFields(err), camera: event.after.camera, type: event.type },
        'cannot store event',
      );
      return null;
    }
    this.#options.metrics?.countEvent(event.after.camera, event.type);
    const count = this.#eventCounts.get(event.after.camera) ?? { total: 0, last: 0 };
    this.#eventCounts.set(event.after.camera, { total: count.total + 1, last: Date.now() / 1000 });
    this.#options.metrics?.setQueueDepth(session.outbox.depth);
    session.drainer.kick();
    return entry;
  }

  /** `<cam>/face` ON/OFF, retained; remembered and resent on reconnect. */
  setFace(camera: string, present: boolean): void {
    this.setRetained(this.topics.face(camera), present ? 'ON' : 'OFF');
  }

  /** `<cam>/status/capture` online/offline, retained; remembered and resent on reconnect. */
  setCaptureStatus(camera: string, online: boolean): void {
    this.setRetained(this.topics.captureStatus(camera), online ? 'online' : 'offline');
  }

  /**
   * Publishes `payload` retained on `topic` (QoS 1) now when connected, and again after every reconnect,
   * like the face and capture states. Setting the same payload again sends nothing.
   */
  setRetained(topic: string, payload: string): void {
    if (this.#retained.get(topic) === payload) return;
    this.#retained.set(topic, payload);
    const client = this.#session?.client;
    if (client?.connected && !this.#stopping) client.publish(topic, payload, { qos: 1, retain: true });
  }

  /**
   * Publishes one message now. Rejects (FaceedgeError `MQTT_FAILED`) while disconnected or stopping, so
   * nothing piles up in memory during an outage; a message that must survive one is `setRetained` or an event.
   */
  async publish(
    topic: string,
    payload: string | Buffer,
    options: { qos?: 0 | 1; retain?: boolean } = {},
  ): Promise<void> {
    const client = this.#session?.client;
    if (!client?.connected || this.#stopping)
      throw new FaceedgeError('MQTT_FAILED', `not connected to the broker: ${topic} was not published`);
    await client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
  }

  /**
   * Calls `handler` for every message matching `filter` (QoS 1 subscription), kept across reconnects.
   * Register before or after start. Returns the unsubscribe.
   */
  subscribe(filter: string, handler: MqttMessageHandler): () => void {
    const { added, remove } = this.#subscriptions.add(filter, handler);
    const client = this.#connectedClient();
    if (added && client) this.#sendSubscribe(client, filter);
    return () => {
      if (remove()) this.#connectedClient()?.unsubscribe(filter);
    };
  }

  /** The client while it is connected, else null. */
  #connectedClient(): MqttClient | null {
    const client = this.#session?.client;
    return client?.connected ? client : null;
  }

  /** Publishes bridge/info again (after a model reload or delegate change). */
  async republishInfo(): Promise<void> {
    const client = this.#session?.client;
    if (!client?.connected) return; // sent on the next connect anyway
    await this.#publishInfo(client);
  }

  /**
   * Waits up to `stopTimeoutMs` for undelivered events, publishes `offline` and disconnects.
   * Undelivered events stay in the outbox for the next start. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#doStop();
    return this.#stopping;
  }

  async #doStop(): Promise<void> {
    const session = this.#session;
    if (!session) return;
    const { client, outbox, drainer } = session;
    const timeoutMs = this.#options.stopTimeoutMs ?? 2000;
    if (client.connected) await drainer.waitIdle(timeoutMs);
    drainer.stop();
    let clean = false;
    if (client.connected) {
      clean = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        client.publish(this.topics.availability, 'offline', { qos: 1, retain: true }, (err) => {
          clearTimeout(timer);
          resolve(!err);
        });
      });
    }
    // A clean DISCONNECT needs nothing in flight; otherwise MQTT.js would wait for acks forever.
    const force = !clean || !client.connected || Object.keys(client.outgoing).length > 0;
    await client.endAsync(force);
    outbox.close();
    this.#options.metrics?.setBrokerConnected(false);
    this.#options.log.info({ undelivered: outbox.depth }, 'MQTT stopped');
  }

  #onConnect({ client, drainer }: Session): void {
    this.#connectedSince = Date.now() / 1000;
    this.#options.metrics?.setBrokerConnected(true);
    this.#options.log.info({ url: this.#safeUrl, queued: this.queueDepth }, 'MQTT connected');
    client.publish(this.topics.availability, 'online', { qos: 1, retain: true });
    // #publishInfo logs its own failure and never rejects; the next connect sends bridge/info again.
    void this.#publishInfo(client);
    for (const [topic, payload] of this.#retained) client.publish(topic, payload, { qos: 1, retain: true });
    this.#sendSubscribe(client, this.topics.bridgeRequestFilter);
    for (const filter of this.#subscriptions.filters) this.#sendSubscribe(client, filter);
    drainer.kick();
  }

  #sendSubscribe(client: MqttClient, filter: string): void {
    client.subscribe(filter, { qos: 1 }, (err) => {
      if (err) this.#options.log.error({ err: err.message, filter }, 'cannot subscribe');
    });
  }

  async #publishInfo(client: MqttClient): Promise<void> {
    try {
      const info = await this.#options.bridgeInfo();
      client.publish(this.topics.bridgeInfo, JSON.stringify(info), { qos: 1, retain: true });
    } catch (err) {
      this.#options.log.error({ err }, 'cannot build bridge/info');
    }
  }

  #onMessage(topic: string, payload: Buffer, retained: boolean): void {
    const origin = this.#originOf(topic, payload);
    this.#subscriptions.dispatch(topic, payload, retained, origin);
    const command = this.topics.commandOf(topic);
    if (command === null) return;
    if (retained) {
      // A retained request would run again on every reconnect (a reload loop); requests are one-shot.
      this.#options.log.warn({ topic }, 'ignoring a retained bridge request');
      return;
    }
    // dispatch turns every outcome into a response and never rejects.
    void this.bridge.dispatch(command, payload, origin ?? undefined).then((response) => {
      this.#session?.client.publish(this.topics.bridgeResponse(command), JSON.stringify(response), { qos: 1 });
    });
  }

  /** Who sent a request (taken once from the broker's ledger, at receipt); null for any other message. */
  #originOf(topic: string, payload: Buffer): RequestOrigin | null {
    if (!this.topics.requestFilters.some((filter) => topicMatches(filter, topic))) return null;
    return (this.#options.origins ?? EXTERNAL_BROKER_ORIGINS).take(topic, payload);
  }
}
