/**
 * MQTT.js connection options from the `mqtt` config slice: credentials, TLS material read from the
 * configured files, keepalive/reconnect timing and the last will that marks the device offline.
 */
import { readFileSync } from 'node:fs';
import type { IClientOptions } from 'mqtt';
import { FaceedgeError } from '../errors.js';

/** The part of the `mqtt` config section the connection needs. */
export interface MqttConnectionConfig {
  readonly username?: string;
  readonly password?: string;
  readonly client_id: string;
  /** Seconds. */
  readonly keepalive: number;
  readonly reconnect_period_ms: number;
  /**
   * `mqtt.protocol_version`: 4 keeps MQTT 3.1.1 even where `maxIncomingPacketBytes` would ask for MQTT 5 (a
   * broker that refuses MQTT 5). Default 5.
   */
  readonly protocol_version?: 4 | 5;
  readonly tls?: {
    readonly ca?: string;
    readonly cert?: string;
    readonly key?: string;
    readonly reject_unauthorized: boolean;
  };
}

export interface LastWill {
  readonly topic: string;
  readonly payload: string;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new FaceedgeError(
      'MQTT_FAILED',
      `cannot read the MQTT TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      {
        hint: `check mqtt.tls.${what} in the configuration`,
        cause: err,
      },
    );
  }
}

/**
 * Options for `mqtt.connect(url, options)`. The will is QoS 1 and retained so a subscriber that
 * arrives after a crash still sees `offline`. Throws FaceedgeError `MQTT_FAILED` when a TLS file is unreadable.
 * @param maxIncomingPacketBytes the largest packet the broker may send this client, bytes: the client then
 *   speaks MQTT 5 and says so in its CONNECT (`maximumPacketSize`, MQTT 5 §3.1.2.11.4), and the broker drops
 *   a larger message for it instead of delivering it (a peer's huge retained message on a topic the daemon
 *   subscribes to). MQTT 3.1.1 has no such field: without it, or with `protocol_version` 4, the client speaks
 *   3.1.1 and the broker sends any size (each request is still bounded before it is parsed).
 */
export function buildMqttClientOptions(
  config: MqttConnectionConfig,
  will: LastWill,
  maxIncomingPacketBytes?: number,
): IClientOptions {
  const options: IClientOptions = {
    clientId: config.client_id,
    keepalive: config.keepalive,
    reconnectPeriod: config.reconnect_period_ms,
    connectTimeout: 10_000,
    clean: true,
    // We subscribe again in our own connect handler; letting MQTT.js also do it would double up.
    resubscribe: false,
    // QoS 0 (stats) is worth nothing once stale: never queue it while offline.
    queueQoSZero: false,
    // A refused login (CONNACK error) is retried too; BrokerConnection backs the period off.
    reconnectOnConnackError: true,
    will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: true },
  };
  if (maxIncomingPacketBytes !== undefined && config.protocol_version !== 4) {
    options.protocolVersion = 5;
    options.properties = { maximumPacketSize: maxIncomingPacketBytes };
  }
  if (config.username !== undefined) options.username = config.username;
  if (config.password !== undefined) options.password = config.password;
  const tls = config.tls;
  if (tls) {
    if (tls.ca) options.ca = readPem(tls.ca, 'ca');
    if (tls.cert) options.cert = readPem(tls.cert, 'cert');
    if (tls.key) options.key = readPem(tls.key, 'key');
    options.rejectUnauthorized = tls.reject_unauthorized;
  }
  return options;
}
