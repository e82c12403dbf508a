import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/observability/logger.js';
import { EmbeddedBroker } from '../../src/mqtt/embedded-broker.js';
import { EventPrinter } from '../../src/mqtt/event-printer.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { makeTrackEvent } from '../helpers/make-track-event.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';
import { waitUntil } from '../helpers/wait-until.js';

describe('embedded aedes broker', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('serves the daemon and a subscriber on loopback; the event printer prints each event as one line', async () => {
    const logged: unknown[] = [];
    const log = silentLogger();
    log.info = ((obj: unknown) => void logged.push(obj)) as typeof log.info;
    const broker = new EmbeddedBroker({ port: 0, log });
    cleanup.push(() => broker.stop());
    const url = await broker.start();
    expect(url).toBe(`mqtt://127.0.0.1:${broker.port}`);
    expect(broker.port).toBeGreaterThan(0);
    expect(logged).toContainEqual(expect.objectContaining({ url }));

    const lines: string[] = [];
    const printer = new EventPrinter({ url, baseTopic: 'faceedge', deviceId: 'pi', log, write: (l) => lines.push(l) });
    cleanup.push(() => printer.stop());
    await printer.start();

    const output: MqttOutput = testMqttOutput({ url });
    cleanup.push(() => output.stop());
    await output.start();
    await output.waitConnected();
    const probe = await MqttProbe.connect(url, ['faceedge/pi/#']);
    cleanup.push(() => probe.close());
    expect(await probe.waitFor((m) => m.topic === 'faceedge/pi/availability')).toMatchObject({
      text: 'online',
      retain: true,
    });

    output.publishEvent(makeTrackEvent('door', 1, 'new'));
    output.publishEvent(makeTrackEvent('door', 2, 'end'));
    await waitUntil(() => lines.length === 2, 10_000, 'two printed lines');
    expect(lines[0]).toMatch(/ door NEW +door-1 female 0\.90 \(top 0\.95\) box 101,80 64x64 frames 4 #1$/);
    expect(lines[1]).toMatch(/ door END +door-2 male .* lasted 10\.0s #2$/);
    await waitUntil(() => output.queueDepth === 0, 10_000, 'PUBACKs from aedes');
  });

  it('reports a taken port as a typed error and stops idempotently', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => blocker.close(() => r())));
    const port = (blocker.address() as { port: number }).port;
    const broker = new EmbeddedBroker({ port, log: silentLogger() });
    await expect(broker.start()).rejects.toMatchObject({ code: 'MQTT_FAILED' });
    await broker.stop();

    const ok = new EmbeddedBroker({ port: 0, log: silentLogger() });
    await ok.start();
    const probe = await MqttProbe.connect(ok.url, []);
    await ok.stop();
    await ok.stop();
    await waitUntil(() => !probe.client.connected, 5000, 'client disconnected by stop');
    await probe.close();
  });
});
