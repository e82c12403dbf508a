/**
 * The outbox against a real broker outage and a real publisher crash: every event must arrive exactly
 * once (by id) and in order. The subscriber keeps a persistent session on a persistent broker so that
 * it does not miss what the publisher sends while the subscriber itself is still reconnecting.
 */
import { readdirSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DaemonMetrics } from '../../src/observability/metrics.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { makeTrackEvent } from '../helpers/make-track-event.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { spawnOutputChild } from '../helpers/spawn-output-child.js';
import { waitUntil } from '../helpers/wait-until.js';
import { newOutboxDir, testMqttOutput } from '../helpers/test-mqtt-output.js';

const EVENTS = 'faceedge/pi/+/events';

interface Received {
  seq: number;
  id: string;
  type: string;
  frames: number;
  camera: string;
}

describe('event outbox with a real broker', () => {
  let broker: Mosquitto;
  let subscriber: MqttProbe;
  const outputs: MqttOutput[] = [];

  beforeEach(async () => {
    broker = await Mosquitto.start({ persistence: true });
    subscriber = await MqttProbe.connect(broker.url, [EVENTS], { clientId: `sub-${Date.now()}`, clean: false });
  });
  afterEach(async () => {
    for (const o of outputs.splice(0)) await o.stop();
    await subscriber.close();
    await broker.dispose();
  });

  /**
   * Events as the subscriber saw them, minus the broker's own DUP redeliveries to the subscriber
   * (QoS 1 on the broker→subscriber leg; not the publisher's doing). The DUP flag is per leg: a
   * publisher sending an event twice reaches the subscriber as two non-DUP messages, which the
   * exactly-once assertions catch.
   */
  function received(): Received[] {
    return subscriber.messages
      .filter((m) => m.topic.endsWith('/events') && !m.dup)
      .map((m) => {
        const p = JSON.parse(m.text);
        return { seq: p.seq, id: p.id, type: p.type, frames: p.after.frames, camera: p.after.camera };
      });
  }
  const waitCount = (n: number, timeoutMs = 20_000) =>
    subscriber.waitUntil(() => received().length >= n, timeoutMs, `${n} events (have ${received().length})`);

  function expectExactlyOnceInOrder(events: Received[], firstSeq: number, count: number) {
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: count }, (_, i) => firstSeq + i));
    expect(new Set(events.map((e) => e.id)).size).toBe(count);
  }

  it('delivers events published during a broker outage exactly once each, in order, after it returns', async () => {
    const metrics = new DaemonMetrics({ processMetrics: false });
    const output = testMqttOutput({ url: broker.url, metrics });
    outputs.push(output);
    await output.start();
    await output.waitConnected();

    for (let i = 1; i <= 3; i++) output.publishEvent(makeTrackEvent('door', i));
    await waitCount(3);
    await waitUntil(() => output.queueDepth === 0, 10_000, 'PUBACKs');

    await broker.stop();
    for (let i = 4; i <= 40; i++) output.publishEvent(makeTrackEvent(i % 2 ? 'door' : 'yard', i));
    expect(output.queueDepth).toBe(37);
    expect(await metrics.metricsText()).toContain('faceedge_mqtt_queue_depth 37');
    // The broker's exit reaches the client as a socket close a moment later (an event-loop turn or more).
    for (
      const deadline = Date.now() + 5000;
      !(await metrics.metricsText()).includes('faceedge_mqtt_connected 0') && Date.now() < deadline;
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await metrics.metricsText()).toContain('faceedge_mqtt_connected 0');
    await new Promise((r) => setTimeout(r, 300)); // a few failed reconnects

    await broker.restart();
    await waitCount(40);
    await new Promise((r) => setTimeout(r, 300)); // would a duplicate still arrive?
    const events = received();
    expectExactlyOnceInOrder(events, 1, 40);
    expect(events.map((e) => e.frames)).toEqual(Array.from({ length: 40 }, (_, i) => 3 + i + 1));
    expect(events[4]!.camera).toBe('door');
    expect(events[3]!.camera).toBe('yard');
    await waitUntil(() => output.queueDepth === 0, 10_000, 'PUBACKs');
    expect(await metrics.metricsText()).toContain('faceedge_mqtt_queue_depth 0');
    expect(await metrics.metricsText()).toContain('faceedge_events_total{camera="door",type="update"} 21');
  });

  it('a new publisher over the same outbox delivers what a stopped one could not', async () => {
    const dir = newOutboxDir();
    await broker.stop();
    const first = testMqttOutput({ url: broker.url, outboxDir: dir });
    await first.start();
    for (let i = 1; i <= 10; i++) first.publishEvent(makeTrackEvent('door', i, i === 1 ? 'new' : 'update'));
    expect(first.queueDepth).toBe(10);
    await first.stop();

    await broker.restart();
    const second = testMqttOutput({ url: broker.url, outboxDir: dir });
    outputs.push(second);
    await second.start();
    expect(second.queueDepth).toBe(10);
    await waitCount(10);
    second.publishEvent(makeTrackEvent('door', 11, 'end'));
    await waitCount(11);
    await new Promise((r) => setTimeout(r, 300));
    const events = received();
    expectExactlyOnceInOrder(events, 1, 11);
    expect(events[0]!.type).toBe('new');
    expect(events[10]!.type).toBe('end');
    // Delivered segments are deleted; only the one being written may remain.
    expect(readdirSync(dir).filter((f) => f.startsWith('seg-')).length).toBeLessThanOrEqual(1);
  });

  it('a publisher SIGKILLed with undelivered events: the next one delivers them exactly once', async () => {
    const dir = newOutboxDir();
    await broker.stop();
    const child = await spawnOutputChild({ url: broker.url, dir, deviceId: 'pi', events: 12 });
    expect(child.depth).toBe(12);
    await child.kill(); // no flush, no clean close

    await broker.restart();
    const next = testMqttOutput({ url: broker.url, outboxDir: dir });
    outputs.push(next);
    await next.start();
    await waitCount(12);
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnceInOrder(received(), 1, 12);
    await waitUntil(() => next.queueDepth === 0, 10_000, 'PUBACKs');
  });

  it('drops the oldest events past max_events and delivers the rest in order', async () => {
    await broker.stop();
    const metrics = new DaemonMetrics({ processMetrics: false });
    const output = testMqttOutput({ url: broker.url, maxEvents: 5, metrics });
    outputs.push(output);
    await output.start();
    for (let i = 1; i <= 8; i++) output.publishEvent(makeTrackEvent('door', i));
    expect(output.queueDepth).toBe(5);
    expect(await metrics.metricsText()).toContain('faceedge_mqtt_outbox_dropped_total 3');
    await broker.restart();
    await waitCount(5);
    await new Promise((r) => setTimeout(r, 300));
    expectExactlyOnceInOrder(received(), 4, 5);
  });
});
