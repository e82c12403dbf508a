import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRuntimeOptionsPatch } from '../../src/config/runtime-options.js';
import { DEFAULT_BRIDGE_REQUEST_BYTES } from '../../src/mqtt/bridge-dispatcher.js';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

const REQ = 'faceedge/pi/bridge/request';
const RES = 'faceedge/pi/bridge/response';

describe('bridge request/response (real mosquitto)', () => {
  let broker: Mosquitto;
  let output: MqttOutput;
  let client: MqttProbe;
  let scoreThreshold = 0.5;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    output = testMqttOutput({ url: broker.url });
    output.bridge.register('health_check', () => ({ healthy: true }));
    output.bridge.register('options', (params) => {
      const patch = parseRuntimeOptionsPatch(params);
      scoreThreshold = patch.detector?.score_threshold ?? scoreThreshold;
      return { detector: { score_threshold: scoreThreshold } };
    });
    output.bridge.register('model/reload', async () => {
      throw new Error('model file vanished');
    });
    await output.start();
    await output.waitConnected();
    client = await MqttProbe.connect(broker.url, [`${RES}/#`]);
  });
  afterAll(async () => {
    await client.close();
    await output.stop();
    await broker.dispose();
  });

  async function ask(command: string, body: string, match: (r: Record<string, unknown>) => boolean = () => true) {
    const seen = client.on(`${RES}/${command}`).length;
    await client.publish(`${REQ}/${command}`, body);
    const msg = await client.waitUntil(
      () =>
        client
          .on(`${RES}/${command}`)
          .slice(seen)
          .find((m) => match(JSON.parse(m.text))),
      10_000,
      `response to ${command}`,
    );
    return JSON.parse(msg.text) as Record<string, unknown>;
  }

  it('answers a command with ok, its data and the transaction id', async () => {
    expect(await ask('health_check', '{"transaction":"abc-1"}')).toEqual({
      status: 'ok',
      data: { healthy: true },
      transaction: 'abc-1',
    });
    expect(await ask('health_check', '')).toEqual({ status: 'ok', data: { healthy: true } });
  });

  it('validates options and applies valid ones', async () => {
    const bad = await ask('options', '{"detector":{"score_threshold":7},"transaction":2}');
    expect(bad).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' }, transaction: 2 });
    expect(bad.error).toContain('detector.score_threshold');
    expect(scoreThreshold).toBe(0.5);
    expect(await ask('options', '{"detector":{"score_threshold":0.7},"transaction":3}')).toEqual({
      status: 'ok',
      data: { detector: { score_threshold: 0.7 } },
      transaction: 3,
    });
    expect(scoreThreshold).toBe(0.7);
  });

  it('refuses a request over its bound before parsing it, through an external broker, and keeps serving', async () => {
    // 1 MiB of valid JSON: well within Mosquitto's own packet limit, far over the options command's bound.
    const huge = JSON.stringify({ transaction: 'big-1', detector: { score_threshold: 0.6 }, pad: 'x'.repeat(1 << 20) });
    const refused = await ask('options', huge);
    expect(refused).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' }, transaction: 'big-1' });
    expect(refused.error).toBe(
      `bridge request options of ${huge.length} bytes is over its bound of ${DEFAULT_BRIDGE_REQUEST_BYTES} bytes`,
    );
    expect(scoreThreshold).not.toBe(0.6);
    expect(await ask('health_check', '{"transaction":"after"}')).toMatchObject({ status: 'ok', transaction: 'after' });
  });

  it('answers an unknown command, malformed JSON and a throwing handler with errors, and keeps serving', async () => {
    const unknown = await ask('self_destruct', '{"transaction":"t-9"}');
    expect(unknown).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' }, transaction: 't-9' });
    expect(unknown.error).toContain('unknown command "self_destruct"');

    const malformed = await ask('health_check', '{"transaction":"t-10", "x": nope}', (r) => r.status === 'error');
    expect(malformed).toMatchObject({ status: 'error', transaction: 't-10' });
    expect(malformed.error).toMatch(/malformed JSON/);

    const thrown = await ask('model/reload', '{"transaction":11}');
    expect(thrown).toEqual({
      status: 'error',
      data: { code: 'INTERNAL' },
      error: 'model file vanished',
      transaction: 11,
    });
    expect(client.on(`${RES}/model/reload`)[0]?.topic).toBe(`${RES}/model/reload`);

    expect(await ask('health_check', '{"transaction":12}')).toMatchObject({ status: 'ok', transaction: 12 });
    expect(output.connected).toBe(true);
  });

  it('does not replay a retained request when it resubscribes after a reconnect', async () => {
    // Live delivery of a retained publish carries retain=0 and is answered once; the broker's
    // replay to a new subscription carries retain=1 and must not run the command again.
    await client.publish(`${REQ}/health_check`, '{"transaction":"retained"}', { retain: true });
    await client.waitFor((m) => m.topic === `${RES}/health_check` && m.text.includes('"retained"'));
    const inner = (output as unknown as { client: { outgoing: object; stream: { destroy(): void } } }).client;
    // Let the response's PUBACK arrive first, or MQTT.js rightly resends it (QoS 1) after the reconnect.
    while (Object.keys(inner.outgoing).length > 0) await new Promise((r) => setTimeout(r, 10));
    const seen = client.on(`${RES}/health_check`).length;
    inner.stream.destroy();
    await new Promise((r) => setTimeout(r, 300));
    await output.waitConnected();
    await ask('health_check', '{"transaction":"after"}', (r) => r.transaction === 'after');
    expect(
      client
        .on(`${RES}/health_check`)
        .slice(seen)
        .map((m) => JSON.parse(m.text).transaction),
    ).toEqual(['after']);
    await client.publish(`${REQ}/health_check`, '', { retain: true }); // clears the retained request
  });
});
