import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { HealthFacts } from '../../src/observability/health-report.js';
import { HealthServer } from '../../src/observability/health-server.js';
import { silentLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HealthServer', () => {
  let server: HealthServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
  });

  it('serves /healthz 200 when ready, 503 with reasons when not, and Prometheus text on /metrics', async () => {
    const metrics = new DaemonMetrics();
    let facts: HealthFacts = {
      started: true,
      broker_connected: false,
      last_frame_age_ms: { door: 40 },
      model: { id: 'faceedge-gender-v1', sha256: 'ab'.repeat(32), delegate: 'xnnpack' },
    };
    server = new HealthServer({ host: '127.0.0.1', port: 0, health: () => facts, metrics, log: silentLogger() });
    await server.start();
    expect(server.port).toBeGreaterThan(0);

    const ok = await get(server.port, '/healthz');
    expect(ok.status).toBe(200);
    expect(ok.type).toBe('application/json');
    expect(JSON.parse(ok.body)).toMatchObject({
      ready: true,
      broker_connected: false,
      last_frame_age_ms: { door: 40 },
      model: { id: 'faceedge-gender-v1' },
    });

    facts = { ...facts, last_frame_age_ms: { door: 60_000, yard: null } };
    const stale = await get(server.port, '/healthz');
    expect(stale.status).toBe(503);
    const report = JSON.parse(stale.body) as { ready: boolean; reasons: string[] };
    expect(report.ready).toBe(false);
    expect(report.reasons).toEqual(['camera door: last frame 60000 ms ago', 'camera yard: no frame yet']);

    metrics.countFrame('door');
    metrics.observeStage('detect', 3, 'door');
    metrics.setQueueDepth(7);
    metrics.setBrokerConnected(true);
    const m = await get(server.port, '/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toContain('text/plain');
    expect(m.body).toContain('faceedge_frames_total{camera="door"} 1');
    expect(m.body).toContain('faceedge_stage_duration_seconds_bucket{le="0.005",stage="detect",camera="door"} 1');
    expect(m.body).toContain('faceedge_mqtt_queue_depth 7');
    expect(m.body).toContain('faceedge_mqtt_connected 1');

    expect((await get(server.port, '/nope')).status).toBe(404);
    expect((await get(server.port, '/healthz', 'POST')).status).toBe(405);
  });

  it('stop() is idempotent and frees the port; a busy port is a typed error', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });
    const facts = (): HealthFacts => ({ started: false, broker_connected: false, last_frame_age_ms: {}, model: null });
    server = new HealthServer({ host: '127.0.0.1', port: 0, health: facts, metrics, log: silentLogger() });
    await server.start();
    const port = server.port;
    const clash = new HealthServer({ host: '127.0.0.1', port, health: facts, metrics, log: silentLogger() });
    await expect(clash.start()).rejects.toMatchObject({ code: 'USAGE' });
    const notReady = await get(port, '/healthz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body).reasons).toEqual(['not started', 'no model loaded']);
    await server.stop();
    await server.stop();
    await expect(get(port, '/healthz')).rejects.toThrow();
  });
});
