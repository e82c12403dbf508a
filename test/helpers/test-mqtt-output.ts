/** An MqttOutput wired for tests: fast reconnects, a fresh outbox directory unless one is given. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/observability/logger.js';
import type { BridgeInfo } from '../../src/mqtt/mqtt-payloads.js';
import { MqttOutput, type MqttOutputOptions } from '../../src/mqtt/mqtt-output.js';

export const TEST_INFO: BridgeInfo = {
  version: '0.0.0-test',
  model: {
    id: 'faceedge-gender-test',
    sha256: 'ab'.repeat(32),
    labels: ['female', 'male'],
    threshold: 0.5,
    flip_average: false,
  },
  delegate: { active: 'xnnpack', fallback_reason: null },
  config: { device: { id: 'pi' } },
};

export function newOutboxDir(): string {
  return mkdtempSync(join(tmpdir(), 'faceedge-outbox-'));
}

export interface TestOutputOptions extends Partial<Omit<MqttOutputOptions, 'mqtt'>> {
  readonly url: string;
  readonly outboxDir?: string;
  readonly maxEvents?: number;
  readonly mqtt?: Partial<MqttOutputOptions['mqtt']>;
}

export function testMqttOutput(options: TestOutputOptions): MqttOutput {
  const { url, outboxDir, maxEvents, mqtt, ...rest } = options;
  return new MqttOutput({
    url,
    deviceId: 'pi',
    bridgeInfo: () => TEST_INFO,
    log: silentLogger(),
    stopTimeoutMs: 1000,
    ...rest,
    mqtt: {
      base_topic: 'faceedge',
      client_id: `faceedge-test-${Math.random().toString(16).slice(2, 10)}`,
      keepalive: 5,
      reconnect_period_ms: 100,
      outbox: { dir: outboxDir ?? newOutboxDir(), max_events: maxEvents ?? 1000 },
      ...mqtt,
    },
  });
}
