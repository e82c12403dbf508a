/**
 * `/healthz` (JSON readiness, 200 when ready else 503) and `/metrics` (Prometheus text) on node:http.
 * Kept apart from everything else so a stuck pipeline never blocks a health probe.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FaceedgeError } from '../errors.js';
import { evaluateHealth, type HealthFacts, type HealthPolicy } from './health-report.js';

/** What `/metrics` serves; DaemonMetrics implements it. */
export interface MetricsSource {
  readonly contentType: string;
  metricsText(): Promise<string>;
}

export interface HealthServerOptions {
  /** Listen address. Default `0.0.0.0`. */
  readonly host?: string;
  /** TCP port; 0 = any free port (see `port` after start). */
  readonly port: number;
  /** Called on every `/healthz` request. */
  readonly health: () => HealthFacts;
  readonly metrics: MetricsSource;
  readonly log: Logger;
  readonly policy?: HealthPolicy;
  /**
   * Further routes (the live view): asked first for any path other than `/healthz` and `/metrics`;
   * resolves true when it answered the request. Default: none (404).
   */
  readonly routes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export class HealthServer {
  #server: Server | null = null;
  #boundPort = 0;

  readonly #options: HealthServerOptions;

  constructor(options: HealthServerOptions) {
    this.#options = options;
  }

  /** The port listened on (useful with port 0); 0 before start. */
  get port(): number {
    return this.#boundPort;
  }

  /** Starts listening. Throws FaceedgeError `USAGE` when the port cannot be bound. */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        this.#options.log.error({ err }, 'health server request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    const host = this.#options.host ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(
          new FaceedgeError('USAGE', `cannot listen on ${host}:${this.#options.port}: ${err.message}`, {
            hint: 'set http.port to a free port, or 0 to disable the health server',
            cause: err,
          }),
        ),
      );
      server.listen(this.#options.port, host, () => resolve());
    });
    this.#server = server;
    this.#boundPort = (server.address() as AddressInfo).port;
    this.#options.log.info({ host, port: this.#boundPort }, 'health server listening (/healthz, /metrics)');
  }

  /** Stops listening and closes open connections. Idempotent. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Keep-alive connections of a scraper would otherwise hold close() open.
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/healthz' && path !== '/metrics') {
      if (this.#options.routes && (await this.#options.routes(req, res))) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /healthz or /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      const report = evaluateHealth(this.#options.health(), this.#options.policy);
      const body = JSON.stringify(report);
      res.writeHead(report.ready ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const text = await this.#options.metrics.metricsText();
    res.writeHead(200, { 'content-type': this.#options.metrics.contentType });
    res.end(req.method === 'HEAD' ? undefined : text);
  }
}
