/**
 * MqttOutput's general-purpose side the daemon uses for GPIO, Home Assistant and model pushes, against a
 * real Mosquitto: subscriptions that survive a broker restart (the clean session forgets them), retained
 * messages resent after one (a broker without persistence forgets them too), one-shot publishes that
 * refuse to queue while disconnected, and a throwing handler that costs nobody else their messages.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { topicMatches } from '../../src/mqtt/mqtt-topics.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

describe('topicMatches', () => {
  it.each([
    ['a/+/set', 'a/relay/set', true],
    ['a/+/set', 'a/relay/x/set', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/b', 'a/b/c', false],
    ['homeassistant/status', 'homeassistant/status', true],
    ['a/+', 'a', false],
  ])('%s vs %s → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
  });
});

describe('MqttOutput subscribe / setRetained / publish (real mosquitto)', () => {
  let broker: Mosquitto;
  const cleanup: (() => Promise<void>)[] = [];
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  afterAll(async () => {
    await broker.dispose();
  });

  async function started(): Promise<MqttOutput> {
    const output = testMqttOutput({ url: broker.url, deviceId: 'pi' });
    cleanup.push(() => output.stop());
    await output.start();
    await output.waitConnected(10_000);
    return output;
  }
  async function probe(topics: string[]): Promise<MqttProbe> {
    const p = await MqttProbe.connect(broker.url, topics);
    cleanup.push(() => p.close());
    return p;
  }
  const until = async (check: () => boolean, what: string, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('delivers matching messages to every handler, keeps the subscription across a broker restart, and stops after unsubscribe', async () => {
    const output = await started();
    const got: string[] = [];
    const unsubscribe = output.subscribe('faceedge/pi/gpio/+/set', (topic, payload, retained) =>
      got.push(`${topic}=${payload.toString()}${retained ? ' (retained)' : ''}`),
    );
    output.subscribe('faceedge/pi/gpio/+/set', () => {
      throw new Error('a buggy handler');
    });
    const sender = await probe([]);
    await until(() => output.connected, 'connected');
    // The subscription is sent asynchronously: publish until the first one arrives.
    await until(
      () => (void sender.publish('faceedge/pi/gpio/relay/set', 'ON'), got.length > 0),
      'the first command',
      5000,
    );
    await sender.publish('faceedge/pi/gpio/other/state', 'ON'); // not matching
    await sender.publish('faceedge/pi/gpio/led/set', 'OFF');
    await until(() => got.includes('faceedge/pi/gpio/led/set=OFF'), 'the led command');
    expect(got.every((g) => g.includes('/set='))).toBe(true);

    await broker.kill();
    await broker.restart();
    await until(() => output.connected, 'reconnected');
    const before = got.length;
    await until(
      () => (void sender.publish('faceedge/pi/gpio/relay/set', 'OFF').catch(() => undefined), got.length > before),
      'a command after the restart',
      10_000,
    );

    unsubscribe();
    await new Promise((r) => setTimeout(r, 200));
    const after = got.length;
    await sender.publish('faceedge/pi/gpio/relay/set', 'ON');
    await new Promise((r) => setTimeout(r, 300));
    expect(got.length).toBe(after);
  });

  it('setRetained publishes retained once per change and again after a broker that forgot it restarts', async () => {
    const output = await started();
    output.setRetained('homeassistant/device/pi/config', '{"v":1}');
    output.setRetained('homeassistant/device/pi/config', '{"v":1}');
    const first = await probe(['homeassistant/#']);
    await first.waitFor((m) => m.retain && m.text === '{"v":1}', 5000, 'the retained config');
    await new Promise((r) => setTimeout(r, 200));
    expect(first.on('homeassistant/device/pi/config')).toHaveLength(1);

    await broker.kill(); // no persistence: the retained message is gone with it
    await broker.restart();
    await until(() => output.connected, 'reconnected');
    const late = await probe(['homeassistant/#']);
    await late.waitFor((m) => m.retain && m.text === '{"v":1}', 5000, 'the retained config resent after the restart');
  });

  it('publish sends once while connected and refuses (MQTT_FAILED) while disconnected instead of queueing', async () => {
    const output = await started();
    const listener = await probe(['faceedge/pi/rules/action']);
    await output.publish('faceedge/pi/rules/action', '{"rule":"a"}');
    const msg = await listener.waitFor((m) => m.topic === 'faceedge/pi/rules/action');
    expect(msg).toMatchObject({ text: '{"rule":"a"}', retain: false });

    await broker.stop();
    await until(() => !output.connected, 'disconnected');
    const err = await output.publish('faceedge/pi/rules/action', '{"rule":"b"}').then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(err, 'MQTT_FAILED')).toBe(true);
    await broker.restart();
  });
});
