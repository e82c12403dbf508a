import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { publishStats } from '../../src/daemon/parts/stats-part.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { spawnOutputChild } from '../helpers/spawn-output-child.js';
import { newOutboxDir, TEST_INFO, testMqttOutput } from '../helpers/test-mqtt-output.js';

const AVAIL = 'faceedge/pi/availability';
const INFO = 'faceedge/pi/bridge/info';

describe('MQTT availability, bridge/info and retained states (real mosquitto)', () => {
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

  async function started(output: MqttOutput): Promise<MqttOutput> {
    cleanup.push(() => output.stop());
    await output.start();
    await output.waitConnected(10_000);
    return output;
  }
  async function probe(topics = ['faceedge/#']): Promise<MqttProbe> {
    const p = await MqttProbe.connect(broker.url, topics);
    cleanup.push(() => p.close());
    return p;
  }

  it('publishes online and bridge/info retained, states retained, stats, and offline on stop', async () => {
    let info = TEST_INFO;
    const output = await started(testMqttOutput({ url: broker.url, deviceId: 'pi', bridgeInfo: () => info }));
    output.setFace('door', true);
    output.setCaptureStatus('door', true);

    // A subscriber arriving later gets the retained messages.
    const late = await probe();
    const online = await late.waitFor((m) => m.topic === AVAIL);
    expect(online).toMatchObject({ text: 'online', retain: true });
    const infoMsg = await late.waitFor((m) => m.topic === INFO);
    expect(infoMsg.retain).toBe(true);
    expect(JSON.parse(infoMsg.text)).toEqual(TEST_INFO);
    expect(await late.waitFor((m) => m.topic === 'faceedge/pi/door/face')).toMatchObject({ text: 'ON', retain: true });
    expect(await late.waitFor((m) => m.topic === 'faceedge/pi/door/status/capture')).toMatchObject({
      text: 'online',
      retain: true,
    });

    // Changed info is republished on request (e.g. after a model reload).
    info = {
      ...TEST_INFO,
      model: {
        id: 'faceedge-gender-v2',
        sha256: 'cd'.repeat(32),
        labels: ['female', 'male'],
        threshold: 0.42,
        flip_average: false,
      },
    };
    await output.republishInfo();
    await late.waitFor((m) => m.topic === INFO && m.text.includes('faceedge-gender-v2'));

    output.setFace('door', false);
    await late.waitFor((m) => m.topic === 'faceedge/pi/door/face' && m.text === 'OFF');

    publishStats(
      output,
      { fps: { door: 9.5 }, stages_ms: { detect: 1.2, classify: 0.4 }, delegate: 'xnnpack' },
      () => 47.5,
    );
    const stats = JSON.parse((await late.waitFor((m) => m.topic === 'faceedge/pi/stats')).text);
    expect(stats).toMatchObject({
      fps: { door: 9.5 },
      stages_ms: { detect: 1.2 },
      delegate: 'xnnpack',
      cpu_temperature_c: 47.5,
      queue_depth: 0,
    });

    await output.stop();
    await output.stop();
    await late.waitFor((m) => m.topic === AVAIL && m.text === 'offline');
    const after = await probe([AVAIL]);
    expect(await after.waitFor((m) => m.topic === AVAIL)).toMatchObject({ text: 'offline', retain: true });
  });

  it('sends the LWT offline when the connection drops abruptly, then republishes online on reconnect', async () => {
    const output = await started(testMqttOutput({ url: broker.url }));
    const p = await probe([AVAIL]);
    await p.waitFor((m) => m.text === 'online');
    // No DISCONNECT packet: the broker must publish the will. (Reaching the private client is the
    // only way to cut just this connection from inside the process.)
    (output as unknown as { client: { stream: { destroy(): void } } }).client.stream.destroy();
    await p.waitFor((m) => m.text === 'offline', 10_000, 'LWT offline');
    const offlineAt = p.messages.findIndex((m) => m.text === 'offline');
    await p.waitUntil(
      () => p.messages.slice(offlineAt).some((m) => m.text === 'online'),
      10_000,
      'online after reconnect',
    );
    expect(output.connected).toBe(true);
  });

  it('sends the LWT offline when the daemon process is SIGKILLed', async () => {
    const p = await probe(['faceedge/killed/availability']);
    const child = await spawnOutputChild({
      url: broker.url,
      dir: newOutboxDir(),
      deviceId: 'killed',
      waitConnected: true,
    });
    await p.waitFor((m) => m.text === 'online');
    await child.kill();
    const will = await p.waitFor((m) => m.text === 'offline', 15_000, 'LWT after SIGKILL');
    expect(will.topic).toBe('faceedge/killed/availability');
  });

  it('republishes availability, bridge/info and states after the broker restarts and forgot them', async () => {
    const output = await started(testMqttOutput({ url: broker.url }));
    output.setFace('yard', true);
    output.setCaptureStatus('yard', false);
    const before = await probe();
    await before.waitFor((m) => m.topic === 'faceedge/pi/yard/face');
    await broker.restart(); // no persistence: every retained message is gone
    await before.close();
    await new Promise((r) => setTimeout(r, 300));
    await output.waitConnected(10_000);
    const p = await probe();
    await p.waitFor((m) => m.topic === AVAIL && m.text === 'online' && m.retain);
    await p.waitFor((m) => m.topic === INFO && m.retain);
    await p.waitFor((m) => m.topic === 'faceedge/pi/yard/face' && m.text === 'ON' && m.retain);
    await p.waitFor((m) => m.topic === 'faceedge/pi/yard/status/capture' && m.text === 'offline' && m.retain);
  });
});
