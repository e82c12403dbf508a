/**
 * The audit trail over a real Mosquitto (an external broker): the record of a request says that the broker's ACL
 * admitted the sender (`who: null`), since MQTT tells a subscriber nothing of the publisher; it is published on
 * `<dev>/audit`, not retained; a read-only command leaves no record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../src/mqtt/audit-trail.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { silentLogger } from '../../src/observability/logger.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

describe('the audit trail with an external broker', () => {
  let broker: Mosquitto;
  let output: MqttOutput;
  let probe: MqttProbe;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const audit: AuditTrail = new AuditTrail({
      log: silentLogger(),
      topic: 'faceedge/pi/audit',
      publish: (topic, payload) => output.publish(topic, payload, { qos: 1, retain: false }),
    });
    output = testMqttOutput({ url: broker.url, audit });
    output.bridge.register('options', { run: () => ({ ok: true }), describe: () => ({ target: 'thresholds' }) });
    output.bridge.register('health_check', { run: () => ({ healthy: true }), readOnly: true });
    await output.start();
    await output.waitConnected();
    probe = await MqttProbe.connect(broker.url, ['faceedge/pi/#'], { clientId: 'ops-laptop' });
  });
  afterAll(async () => {
    await probe?.close();
    await output?.stop();
    await broker?.dispose();
  });

  it('records who: null, via the broker ACL, once per request that changes the board', async () => {
    await probe.publish('faceedge/pi/bridge/request/health_check', '{}');
    await probe.waitFor((m) => m.topic === 'faceedge/pi/bridge/response/health_check');
    await probe.publish('faceedge/pi/bridge/request/options', '{"detector":{"score_threshold":0.6}}');
    const message = await probe.waitFor((m) => m.topic === 'faceedge/pi/audit', 10_000, 'an audit message');
    expect(message.retain).toBe(false);
    expect(JSON.parse(message.text)).toMatchObject({
      who: null,
      via: 'external broker (ACL: operators)',
      action: 'bridge/options',
      target: 'thresholds',
      outcome: 'accepted',
    });
    await probe.waitFor((m) => m.topic === 'faceedge/pi/bridge/response/options');
    expect(probe.on('faceedge/pi/audit')).toHaveLength(1);
  });
});
