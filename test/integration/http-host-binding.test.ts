/**
 * Where `/healthz` and `/metrics` listen, as the config decides: loopback by default (on today's main they
 * answered every address), every address with `http.host: 0.0.0.0`, the setting a Prometheus on another host
 * needs. (The live view on the same server answers remote clients only with `http.auth`:
 * live-view-server.test.ts.)
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { HealthServer } from '../../src/observability/health-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';

const LAN_ADDRESS = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;

/** The status of GET `path` at `host:port`, or the connection error's code. */
function status(host: string, port: number, path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe.skipIf(!LAN_ADDRESS)(`the HTTP server's listen address (LAN address ${LAN_ADDRESS})`, () => {
  let server: HealthServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
  });

  async function serve(env: Record<string, string>): Promise<number> {
    const { http } = loadConfig({ env });
    server = new HealthServer({
      host: http.host,
      port: 0,
      health: () => ({ started: true, broker_connected: true, last_frame_age_ms: {}, model: null }),
      metrics: new DaemonMetrics(),
      log: silentLogger(),
    });
    await server.start();
    return server.port;
  }

  it('by default answers on loopback only: nothing reaches /healthz or /metrics from the LAN', async () => {
    const port = await serve({});
    // Answered (503: these facts are of a board without a model), as opposed to refused.
    expect(await status('127.0.0.1', port, '/healthz')).toBe(503);
    expect(await status('127.0.0.1', port, '/metrics')).toBe(200);
    expect(await status(LAN_ADDRESS!, port, '/healthz')).toBe('ECONNREFUSED');
    expect(await status(LAN_ADDRESS!, port, '/metrics')).toBe('ECONNREFUSED');
  });

  it('with http.host 0.0.0.0 answers a scraper on the LAN', async () => {
    const port = await serve({ FACEEDGE_HTTP__HOST: '0.0.0.0' });
    expect(await status(LAN_ADDRESS!, port, '/metrics')).toBe(200);
    expect(await status(LAN_ADDRESS!, port, '/healthz')).toBe(503);
  });
});
