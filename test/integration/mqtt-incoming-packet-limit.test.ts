/**
 * The daemon's own MQTT client with an external broker (issue 23 hardening): a peer that may publish where the
 * daemon subscribes can leave a huge retained message there. With `maxIncomingPacketBytes` the client speaks
 * MQTT 5 and tells the broker (CONNECT `maximumPacketSize`) what it takes: a real Mosquitto then never
 * delivers the big message, and the client keeps working (a bridge request answered over MQTT 5). The control:
 * the same client without the bound (MQTT 3.1.1) receives it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { MAX_MQTT_PACKET_BYTES } from '../../src/daemon/mqtt-packet-limit.js';
import { buildMqttClientOptions } from '../../src/mqtt/mqtt-client-options.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { waitUntil } from '../helpers/emulated-gpio.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

const BOUND = 64 * 1024;
const BIG = 'x'.repeat(200 * 1024);

describe("the daemon's MQTT client bounds what an external broker may send it", () => {
  let broker: Mosquitto;
  let peer: MqttProbe;
  const outputs: MqttOutput[] = [];

  beforeAll(async () => {
    broker = await Mosquitto.start();
    peer = await MqttProbe.connect(broker.url, ['faceedge/pi/bridge/response/#']);
    await peer.publish('faceedge/pi/gpio/big/set', BIG, { retain: true });
    await peer.publish('faceedge/pi/gpio/small/set', 'ON', { retain: true });
  }, 60_000);
  afterAll(async () => {
    await Promise.all(outputs.map((o) => o.stop()));
    await peer?.close();
    await broker?.dispose();
  });

  async function received(maxIncomingPacketBytes: number | undefined) {
    const output = testMqttOutput({ url: broker.url, maxIncomingPacketBytes });
    outputs.push(output);
    output.bridge.register('health_check', { run: () => ({ healthy: true }), readOnly: true });
    const seen = new Map<string, number>();
    output.subscribe(output.topics.gpioSetFilter, (topic, payload) => void seen.set(topic, payload.length));
    await output.start();
    await output.waitConnected();
    await waitUntil(() => seen.has('faceedge/pi/gpio/small/set'), 'the small retained message', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the big one, had it been sent, is here by now
    return { output, seen };
  }

  it('with the bound (MQTT 5): the big retained message is never delivered, and requests still work', async () => {
    const { seen } = await received(BOUND);
    expect([...seen]).toEqual([['faceedge/pi/gpio/small/set', 2]]);
    const before = peer.on('faceedge/pi/bridge/response/health_check').length;
    await peer.publish('faceedge/pi/bridge/request/health_check', '{"transaction":"v5"}');
    const reply = await peer.waitUntil(
      () => peer.on('faceedge/pi/bridge/response/health_check')[before],
      10_000,
      'the health_check response',
    );
    expect(JSON.parse(reply.text)).toEqual({ status: 'ok', data: { healthy: true }, transaction: 'v5' });
  }, 30_000);

  it('without it (MQTT 3.1.1, what the embedded broker gets): the big message arrives', async () => {
    const { seen } = await received(undefined);
    expect(seen.get('faceedge/pi/gpio/big/set')).toBe(BIG.length);
  }, 30_000);

  it("the daemon's options: MQTT 5 with the board's largest request as the bound", () => {
    const config = { client_id: 'c', keepalive: 30, reconnect_period_ms: 1000 };
    const will = { topic: 't', payload: 'offline' };
    expect(buildMqttClientOptions(config, will, MAX_MQTT_PACKET_BYTES)).toMatchObject({
      protocolVersion: 5,
      properties: { maximumPacketSize: MAX_MQTT_PACKET_BYTES },
    });
    expect(buildMqttClientOptions(config, will).protocolVersion).toBeUndefined();
  });
});
