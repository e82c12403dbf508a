/**
 * A broker that speaks only MQTT 3.1.1 (Mosquitto 1.5, Azure IoT Hub's device endpoint) refuses the daemon's
 * MQTT 5 CONNECT with return code 1. The daemon must say, once, which setting to change, and with
 * `mqtt.protocol_version: 4` it connects and delivers. The 3.1.1-only broker here is aedes (the embedded
 * broker's engine), which answers an MQTT 5 CONNECT exactly so.
 */
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { silentLogger } from '../../src/observability/logger.js';
import { makeTrackEvent } from '../helpers/make-track-event.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';
import { waitUntil } from '../helpers/wait-until.js';

describe('an external broker that speaks only MQTT 3.1.1', { timeout: 60_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function start311Broker(): Promise<string> {
    const broker = new EmbeddedBroker({ port: 0, log: silentLogger() });
    const url = await broker.start();
    cleanups.push(() => broker.stop());
    return url;
  }

  function output(url: string, protocolVersion: 4 | 5, log = silentLogger()): MqttOutput {
    const o = testMqttOutput({
      url,
      log,
      maxIncomingPacketBytes: 1 << 20, // what start-services asks of any external broker
      mqtt: { protocol_version: protocolVersion },
    });
    cleanups.push(() => o.stop());
    return o;
  }

  it('under MQTT 5: one error naming mqtt.protocol_version, and the broker problem (/healthz) names it too', async () => {
    const url = await start311Broker();
    const lines: { level: number; msg: string; hint?: string }[] = [];
    const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const o = output(url, 5, log);
    await o.start();
    await waitUntil(() => o.brokerProblem !== null, 10_000, 'the refusal');
    // Let it retry a few times: still one error.
    await new Promise((r) => setTimeout(r, 600));
    expect(o.connected).toBe(false);
    expect(o.brokerProblem?.hint).toMatch(/mqtt\.protocol_version: 4/);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toMatch(/mqtt\.protocol_version/);
    expect(errors[0]?.hint).toMatch(/does not speak MQTT 5/);
  });

  it('with mqtt.protocol_version: 4 it connects and events arrive', async () => {
    const url = await start311Broker();
    const probe = await MqttProbe.connect(url, ['faceedge/pi/+/events']);
    cleanups.push(() => probe.close());
    const o = output(url, 4);
    await o.start();
    await o.waitConnected();
    o.publishEvent(makeTrackEvent('door', 1));
    const m = await probe.waitFor((msg) => msg.topic === 'faceedge/pi/door/events');
    expect((JSON.parse(m.text) as { after: { id: string } }).after.id).toBe('door-1');
  });

  it('the setting: 5 by default, 4 or 5 accepted (also from the environment as text), anything else refused', () => {
    const minimal = { cameras: [{ name: 'door', source: { type: 'gif', path: 'door.gif' } }] };
    expect(parseConfig(minimal, { hostname: 'pi' }).mqtt.protocol_version).toBe(5);
    expect(parseConfig({ ...minimal, mqtt: { protocol_version: 4 } }, { hostname: 'pi' }).mqtt.protocol_version).toBe(
      4,
    );
    expect(parseConfig({ ...minimal, mqtt: { protocol_version: '4' } }, { hostname: 'pi' }).mqtt.protocol_version).toBe(
      4,
    );
    expect(() => parseConfig({ ...minimal, mqtt: { protocol_version: 3 } }, { hostname: 'pi' })).toThrow(
      /protocol_version/,
    );
  });
});
