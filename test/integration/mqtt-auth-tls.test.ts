import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MqttOutput } from '../../src/mqtt/mqtt-output.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-certificates.js';
import { testMqttOutput } from '../helpers/test-mqtt-output.js';

const outputs: MqttOutput[] = [];
afterEach(async () => {
  for (const o of outputs.splice(0)) await o.stop();
});

function track(o: MqttOutput): MqttOutput {
  outputs.push(o);
  return o;
}

describe('username/password (real mosquitto with a password file)', () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start({ users: { cam: 's3cret', watcher: 'w' } });
  });
  afterAll(() => broker.dispose());

  it('connects with the right credentials', async () => {
    const output = track(testMqttOutput({ url: broker.url, mqtt: { username: 'cam', password: 's3cret' } }));
    await output.start();
    await output.waitConnected();
    const probe = await MqttProbe.connect(broker.url, ['faceedge/pi/availability'], {
      username: 'watcher',
      password: 'w',
    });
    expect(await probe.waitFor(() => true)).toMatchObject({ text: 'online' });
    await probe.close();
  });

  it('reports a wrong password as a typed error and does not crash', async () => {
    const output = track(testMqttOutput({ url: broker.url, mqtt: { username: 'cam', password: 'nope' } }));
    await output.start();
    await expect(output.waitConnected(3000)).rejects.toMatchObject({
      code: 'MQTT_FAILED',
      message: expect.stringMatching(/Not authorized|Bad username/i),
    });
    expect(output.connected).toBe(false);
  });
});

describe('TLS (real mosquitto with a test CA and mutual TLS)', () => {
  let certs: TestCertificates;
  let broker: Mosquitto;
  let url: string;
  beforeAll(async () => {
    certs = makeTestCertificates();
    broker = await Mosquitto.start({
      tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca, requireClientCert: true },
    });
    url = `mqtts://127.0.0.1:${broker.port}`;
  });
  afterAll(() => broker.dispose());

  it('connects with the CA and a client certificate', async () => {
    const output = track(
      testMqttOutput({
        url,
        mqtt: { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey, reject_unauthorized: true } },
      }),
    );
    await output.start();
    await output.waitConnected();
    const probe = await MqttProbe.connect(url, ['faceedge/pi/availability'], {
      ca: readFileSync(certs.ca),
      cert: readFileSync(certs.clientCert),
      key: readFileSync(certs.clientKey),
    });
    expect(await probe.waitFor(() => true)).toMatchObject({ text: 'online' });
    await probe.close();
  });

  it('refuses a broker certificate it cannot verify unless reject_unauthorized is false', async () => {
    const strict = track(
      testMqttOutput({
        url,
        mqtt: { tls: { cert: certs.clientCert, key: certs.clientKey, reject_unauthorized: true } },
      }),
    );
    await strict.start();
    await expect(strict.waitConnected(3000)).rejects.toMatchObject({ code: 'MQTT_FAILED' });

    const lax = track(
      testMqttOutput({
        url,
        mqtt: { tls: { cert: certs.clientCert, key: certs.clientKey, reject_unauthorized: false } },
      }),
    );
    await lax.start();
    await lax.waitConnected();
  });

  it('is refused by the broker without a client certificate', async () => {
    const output = track(testMqttOutput({ url, mqtt: { tls: { ca: certs.ca, reject_unauthorized: true } } }));
    await output.start();
    await expect(output.waitConnected(3000)).rejects.toMatchObject({ code: 'MQTT_FAILED' });
  });

  it('fails start() with a typed error when a TLS file is unreadable', async () => {
    const output = testMqttOutput({ url, mqtt: { tls: { ca: '/nonexistent/ca.pem', reject_unauthorized: true } } });
    await expect(output.start()).rejects.toMatchObject({
      code: 'MQTT_FAILED',
      message: expect.stringContaining('/nonexistent/ca.pem'),
    });
    await output.stop();
  });
});
