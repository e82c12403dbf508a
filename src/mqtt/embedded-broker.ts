/**
 * An in-process MQTT broker (aedes) for the zero-config demo and boards without a broker: started by
 * the composition root only when `mqtt.url` is not configured. Real deployments use Mosquitto.
 * Listens on loopback by default so an unconfigured device never exposes an open broker; the config refuses
 * any other address without `auth` (src/config/config-schema.ts), and with `auth` every client, the daemon's
 * own included, must log in. It writes down who published each request (`ledger`), which no subscriber is
 * told, for the audit trail (src/mqtt/audit-trail.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { Logger } from 'pino';
import { FaceedgeError } from '../errors.js';
import { PacketSizeGuard } from './mqtt-packet-guard.js';
import { topicMatches } from './mqtt-topics.js';
import type { PublisherLedger } from './request-origins.js';

/** The one login of the embedded broker (`embedded_broker.auth`). */
export interface EmbeddedBrokerLogin {
  readonly username: string;
  /** A secret: never logged. */
  readonly password: string;
}

export interface EmbeddedBrokerOptions {
  /** Listen address. Default `127.0.0.1`. */
  readonly host?: string;
  /** TCP port; 0 = any free port. Default 1883. */
  readonly port?: number;
  /** The login every client must give. Absent: any client is let in (keep the host on loopback). */
  readonly auth?: EmbeddedBrokerLogin;
  /** Where the publisher of each message on `recordFilters` is written down. Default: nowhere. */
  readonly ledger?: PublisherLedger;
  /** Topic filters of the requests whose publisher the ledger keeps (`MqttTopics.requestFilters`). */
  readonly recordFilters?: readonly string[];
  /**
   * Largest packet a client may send, bytes; a connection whose next packet declares more is closed before
   * the packet is read (src/mqtt/mqtt-packet-guard.ts). Default: no bound beyond the protocol's 256 MB.
   */
  readonly maxPacketBytes?: number;
  readonly log: Logger;
}

/** Shortest interval between two "refused a login" lines about one remote address, ms: 60 s. */
export const REFUSED_LOGIN_LOG_INTERVAL_MS = 60_000;

/** Refusals per remote address since the last line about it; says when the next line is due. */
class RefusalCounter {
  readonly #byRemote = new Map<string, { lastLine: number; since: number }>();
  constructor(readonly intervalMs: number) {}

  /** Counts one refusal; returns how many there were since the last line when one is due now, else null. */
  count(remote: string, now = Date.now()): number | null {
    const entry = this.#byRemote.get(remote);
    if (entry && now - entry.lastLine < this.intervalMs) {
      entry.since += 1;
      return null;
    }
    // Entries older than the interval say nothing any more: forgotten, so the map stays small.
    for (const [key, e] of this.#byRemote) if (now - e.lastLine >= this.intervalMs) this.#byRemote.delete(key);
    this.#byRemote.set(remote, { lastLine: now, since: 0 });
    return (entry?.since ?? 0) + 1;
  }
}

/** CONNACK return code 4, "bad user name or password" (aedes' AuthErrorCode, a const enum in its types). */
const BAD_USERNAME_OR_PASSWORD = 4;

/** Digests of equal length, so that comparing them takes the same time whatever the input. */
const digest = (value: Buffer | string): Buffer => createHash('sha256').update(value).digest();

/** True when `given` equals `expected`, compared in constant time (no early exit on the first wrong byte). */
function sameSecret(given: Buffer | string | undefined, expected: string): boolean {
  return given !== undefined && timingSafeEqual(digest(given), digest(expected));
}

export class EmbeddedBroker {
  #broker: Aedes | null = null;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
  /** The user name each connected client logged in with (null: none given). */
  readonly #usernames = new WeakMap<Client, string | null>();
  readonly #refusals = new RefusalCounter(REFUSED_LOGIN_LOG_INTERVAL_MS);
  #boundPort = 0;

  readonly #options: EmbeddedBrokerOptions;

  constructor(options: EmbeddedBrokerOptions) {
    this.#options = options;
  }

  /** The bound port (useful with port 0); 0 before start. */
  get port(): number {
    return this.#boundPort;
  }

  /** `mqtt://<host>:<port>` for clients; valid after start. */
  get url(): string {
    const host = this.#options.host ?? '127.0.0.1';
    // A wildcard listen address is not a connectable one.
    const connectHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `mqtt://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${this.#boundPort}`;
  }

  /** Starts the broker; throws FaceedgeError `MQTT_FAILED` when the port is taken. Returns the URL. */
  async start(): Promise<string> {
    if (this.#server) return this.url;
    const host = this.#options.host ?? '127.0.0.1';
    const port = this.#options.port ?? 1883;
    const broker = await Aedes.createBroker({
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => {
        // aedes' own rule, kept: $SYS is the broker's.
        if (packet.topic.startsWith('$SYS')) return done(new Error('$SYS topic is reserved'));
        this.#record(client, packet.topic, packet.payload);
        done(null);
      },
    });
    const { maxPacketBytes } = this.#options;
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      if (maxPacketBytes === undefined) return broker.handle(socket);
      const remote = socket.remoteAddress ?? null;
      broker.handle(
        new PacketSizeGuard(socket, maxPacketBytes, (declared) =>
          this.#options.log.warn(
            { remote, declared_bytes: declared, max_packet_bytes: maxPacketBytes },
            'embedded broker closed a connection: its packet is larger than allowed',
          ),
        ),
      );
    });
    broker.on('clientError', (client, err) =>
      this.#options.log.debug({ client: client.id, err: err.message }, 'embedded broker client error'),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw new FaceedgeError(
        'MQTT_FAILED',
        `embedded MQTT broker cannot listen on ${host}:${port}: ${(err as Error).message}`,
        {
          hint: 'set embedded_broker.port to a free port (0 = any), or mqtt.url to use an existing broker',
          cause: err,
        },
      );
    }
    this.#broker = broker;
    this.#server = server;
    this.#boundPort = (server.address() as AddressInfo).port;
    this.#options.log.info(
      { url: this.url, host, port: this.#boundPort, login: this.#options.auth ? 'required' : 'none' },
      'no mqtt.url configured: started the embedded MQTT broker',
    );
    return this.url;
  }

  /**
   * With a login configured, admits only a client that gives it (user name and password each compared in
   * constant time); without one, admits every client. Remembers the user name for the ledger.
   */
  #authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const auth = this.#options.auth;
    if (auth) {
      // Both compared, whatever the first gave: the time taken says nothing about which one was wrong.
      const userOk = sameSecret(username, auth.username);
      const passwordOk = sameSecret(password, auth.password);
      if (!(userOk && passwordOk)) {
        const remote = remoteOf(client);
        const refused = this.#refusals.count(remote ?? 'unknown');
        // One line per address a minute: a client guessing passwords must not flood the log.
        if (refused !== null)
          this.#options.log.warn(
            { client: client.id, username: username ?? null, remote, refused_since_last_line: refused },
            'embedded broker refused a login',
          );
        const error = Object.assign(new Error('bad user name or password'), {
          returnCode: BAD_USERNAME_OR_PASSWORD,
        }) as AuthenticateError;
        return done(error, false);
      }
    }
    this.#usernames.set(client, username ?? null);
    done(null, true);
  }

  /** Writes down who published a request (a topic of `recordFilters`), before the broker delivers it. */
  #record(client: Client | null, topic: string, payload: Buffer | string): void {
    const { ledger, recordFilters = [] } = this.#options;
    // client is null for a message the broker itself publishes (none here): nobody to write down.
    if (!ledger || !client || !recordFilters.some((f) => topicMatches(f, topic))) return;
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    ledger.record(topic, bytes, { client_id: client.id, username: this.#usernames.get(client) ?? null });
  }

  /** Disconnects every client and stops listening. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server;
    const broker = this.#broker;
    if (!server || !broker) return;
    this.#server = null;
    this.#broker = null;
    for (const socket of this.#sockets) socket.destroy();
    await Promise.all([
      new Promise<void>((resolve) => server.close(() => resolve())),
      new Promise<void>((resolve) => broker.close(() => resolve())),
    ]);
    this.#options.log.info('embedded MQTT broker stopped');
  }
}

/** The client's remote address, for the refused-login line. */
function remoteOf(client: Client): string | null {
  const conn = client.conn as Partial<Socket>;
  return typeof conn.remoteAddress === 'string' ? conn.remoteAddress : null;
}
