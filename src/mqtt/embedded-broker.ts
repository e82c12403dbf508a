/**
 * An in-process MQTT broker (aedes) for the zero-config demo and boards without a broker: started by
 * the composition root only when `mqtt.url` is not configured. Real deployments use Mosquitto.
 * Listens on loopback by default so an unconfigured device never exposes an open broker.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { FaceedgeError } from '../errors.js';

export interface EmbeddedBrokerOptions {
  /** Listen address. Default `127.0.0.1`. */
  readonly host?: string;
  /** TCP port; 0 = any free port. Default 1883. */
  readonly port?: number;
  readonly log: Logger;
}

export class EmbeddedBroker {
  #broker: Aedes | null = null;
  #server: Server | null = null;
  readonly #sockets = new Set<Socket>();
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
    const broker = await Aedes.createBroker();
    const server = createServer((socket) => {
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      broker.handle(socket);
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
      { url: this.url, host, port: this.#boundPort },
      'no mqtt.url configured: started the embedded MQTT broker',
    );
    return this.url;
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
