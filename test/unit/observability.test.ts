import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readCpuTemperatureC } from '../../src/observability/cpu-temperature.js';
import { evaluateHealth } from '../../src/observability/health-report.js';
import { componentLogger, createLogger } from '../../src/observability/logger.js';
import { DaemonMetrics } from '../../src/observability/metrics.js';

describe('readCpuTemperatureC', () => {
  it('reads millidegrees from the CPU zone, preferring it over other zones', () => {
    const root = mkdtempSync(join(tmpdir(), 'thermal-'));
    mkdirSync(join(root, 'thermal_zone0'));
    writeFileSync(join(root, 'thermal_zone0', 'type'), 'gpu-thermal\n');
    writeFileSync(join(root, 'thermal_zone0', 'temp'), '39000\n');
    mkdirSync(join(root, 'thermal_zone1'));
    writeFileSync(join(root, 'thermal_zone1', 'type'), 'cpu-thermal\n');
    writeFileSync(join(root, 'thermal_zone1', 'temp'), '52612\n');
    expect(readCpuTemperatureC(root)).toBe(52.6);
  });

  it('returns null when there are no thermal zones', () => {
    expect(readCpuTemperatureC(join(tmpdir(), 'no-such-thermal-root'))).toBeNull();
  });
});

describe('DaemonMetrics', () => {
  it('keeps a registry per instance', async () => {
    const a = new DaemonMetrics({ processMetrics: false });
    const b = new DaemonMetrics({ processMetrics: false });
    a.countEvent('door', 'new');
    a.countOutboxDropped(2);
    expect(await a.metricsText()).toContain('faceedge_events_total{camera="door",type="new"} 1');
    expect(await a.metricsText()).toContain('faceedge_mqtt_outbox_dropped_total 2');
    expect(await b.metricsText()).not.toContain('camera="door"');
  });
});

describe('evaluateHealth', () => {
  it('can require the broker', () => {
    const facts = {
      started: true,
      broker_connected: false,
      last_frame_age_ms: {},
      model: { id: 'm', sha256: 's', delegate: 'cpu' },
    };
    expect(evaluateHealth(facts).ready).toBe(true);
    expect(evaluateHealth(facts, { requireBroker: true }).reasons).toEqual(['MQTT broker not connected']);
  });
});

describe('logger', () => {
  it('writes JSON lines with the component and redacts secrets', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = componentLogger(createLogger({ level: 'info', destination }), 'mqtt');
    log.info({ mqtt: { url: 'mqtt://b', password: 'hunter2', tls: { key: '/k.pem' } } }, 'connecting');
    log.debug('not shown');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]!) as Record<string, any>;
    expect(line.component).toBe('mqtt');
    expect(line.msg).toBe('connecting');
    expect(line.mqtt.url).toBe('mqtt://b');
    expect(line.mqtt.password).toBe('[redacted]');
    expect(line.mqtt.tls.key).toBe('[redacted]');
    expect(lines[0]).not.toContain('hunter2');
  });
});
