/**
 * `faceedge fleet credentials` against real Mosquitto brokers configured with exactly the files it
 * writes: a real daemon (board-b) runs under its own account and the ACL; board-a's account cannot
 * publish under board-b's prefix, cannot read board-b's pushes or requests, cannot push a model to it;
 * the operator can do all of that. The same with client certificates from the site CA.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { FleetConnection } from '../../src/fleet/fleet-connection.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { runFaceedge } from '../helpers/daemon-process.js';
import { TestFleet } from '../helpers/fleet-boards.js';
import { modelPackageSource, NO_MODEL_PACKAGE_REASON, sha256 } from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';

const SOURCE = modelPackageSource();

describe.skipIf(!SOURCE)(`per-device broker credentials and ACL (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-creds-'));
  const creds = join(work, 'creds');
  const password = (user: string) => readFileSync(join(creds, 'passwords', `${user}.txt`), 'utf8').trim();
  let broker: Mosquitto;
  let fleet: TestFleet;
  let operator: FleetConnection;

  beforeAll(async () => {
    const r = await runFaceedge([
      'fleet',
      'credentials',
      'board-a',
      'board-b',
      '--out',
      creds,
      '--certs',
      '--server-name',
      '127.0.0.1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    broker = await Mosquitto.start({
      allowAnonymous: false,
      config: [`password_file ${join(creds, 'mosquitto.passwd')}`, `acl_file ${join(creds, 'mosquitto.acl')}`],
    });
    fleet = new TestFleet(work, broker.url, SOURCE!);
    await fleet.start([{ id: 'board-b', mqtt: { username: 'board-b', password: password('board-b') } }]);
    operator = await FleetConnection.open({
      url: broker.url,
      auth: { username: 'operator', password: password('operator') },
    });
    await operator.settle();
  }, 150_000);

  afterAll(async () => {
    await operator?.close();
    await fleet?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('writes hashed passwords, one per account, and re-running keeps them', async () => {
    const passwd = readFileSync(join(creds, 'mosquitto.passwd'), 'utf8');
    expect(
      passwd
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(':')[0]),
    ).toEqual(['board-a', 'board-b', 'operator']);
    expect(passwd).not.toContain(password('board-a'));
    const before = password('board-b');
    const r = await runFaceedge(['fleet', 'credentials', 'board-a', 'board-b', 'board-c', '--out', creds]);
    expect(r.stdout).toMatch(/1 new: board-c/);
    expect(password('board-b')).toBe(before);
    const refused = await runFaceedge(['fleet', 'credentials', 'bad/id', '--out', creds]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/not a device id: bad\/id/);
  });

  it('a board under its own account and the ACL works normally (status, requests)', async () => {
    expect(operator.view.board('board-b')).toMatchObject({
      online: true,
      model: { sha256: sha256(fleet.shippedModel) },
    });
    const h = await operator.request('board-b', 'health_check');
    expect(h.status).toBe('ok');
  });

  it("board-a cannot publish under board-b's prefix, read its pushes or requests, or push it a model; the operator can", async () => {
    const a = await MqttProbe.connect(broker.url, [], {
      username: 'board-a',
      password: password('board-a'),
      protocolVersion: 5,
    });
    try {
      await a.client.subscribeAsync(
        ['faceedge/board-b/model/push/#', 'faceedge/board-b/bridge/request/#', 'faceedge/#'],
        { qos: 1 },
      );
      // Its own prefix is fine…
      await a.publish('faceedge/board-a/availability', 'online', { retain: true }).catch(() => undefined);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("board-a's own availability never reached the operator")), 10_000);
        const check = () => operator.view.board('board-a')?.online === true && (clearTimeout(t), resolve());
        operator.onChange(check);
        check();
      });
      // …board-b's is not: the broker drops it (MQTT 5: "not authorized").
      const denied = await a.publish('faceedge/board-b/availability', 'offline', { retain: true }).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
      expect(denied).toMatch(/not authori[sz]ed|accepted/i);
      await a
        .publish('faceedge/board-b/bridge/request/options', '{"detector":{"score_threshold":0.99}}')
        .catch(() => undefined);

      const forged = await pushModelOverMqtt({
        dir: fleet.floatPackage('forged').dir,
        url: broker.url,
        deviceId: 'board-b',
        answerTimeoutMs: 3000,
        maxRounds: 1,
        mqtt: { username: 'board-a', password: password('board-a') },
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFaceedgeError(forged, 'MODEL_TRANSFER_FAILED'), String(forged)).toBe(true);

      const real = fleet.floatPackage('from-operator');
      const pushed = await pushModelOverMqtt({
        dir: real.dir,
        url: broker.url,
        deviceId: 'board-b',
        mqtt: { username: 'operator', password: password('operator') },
      });
      expect(pushed.status.state).toBe('installed');
      const h = await operator.request('board-b', 'health_check');
      expect(h.data).toMatchObject({ ready: true, model: { sha256: real.sha256 } });
      expect(operator.view.board('board-b')?.online).toBe(true);
      const options = await operator.request('board-b', 'options', {});
      expect((options.data as { detector: { score_threshold: number } }).detector.score_threshold).not.toBe(0.99); // board-a's request never arrived
      // board-a saw nothing of board-b: not the operator's chunks, not the requests, not its status.
      expect(a.messages.filter((m) => m.topic.startsWith('faceedge/board-b/')).map((m) => m.topic)).toEqual([]);
      // …while its own requests do reach it (the subscriptions were live all along).
      await operator.request('board-a', 'health_check', {}, 500).catch(() => undefined);
      await a.waitFor((m) => m.topic === 'faceedge/board-a/bridge/request/health_check', 5000, 'its own request');
    } finally {
      await a.close();
    }
  }, 120_000);

  it('with client certificates (CN = device id) the same ACL applies', async () => {
    const tlsBroker = await Mosquitto.start({
      allowAnonymous: false,
      tls: {
        cert: join(creds, 'certs/server.pem'),
        key: join(creds, 'certs/server.key'),
        ca: join(creds, 'ca.pem'),
        requireClientCert: true,
      },
      config: ['use_identity_as_username true', `acl_file ${join(creds, 'mosquitto.acl')}`],
    });
    const url = `mqtts://127.0.0.1:${tlsBroker.port}`;
    const tls = (who: string): IClientOptions => ({
      ca: readFileSync(join(creds, 'ca.pem')),
      cert: readFileSync(join(creds, `certs/${who}.pem`)),
      key: readFileSync(join(creds, `certs/${who}.key`)),
      protocolVersion: 5,
    });
    const op = await MqttProbe.connect(url, ['faceedge/#'], tls('operator'));
    const a = await MqttProbe.connect(url, ['faceedge/board-b/#'], tls('board-a'));
    try {
      await a.publish('faceedge/board-b/availability', 'offline').catch(() => undefined);
      await a.publish('faceedge/board-a/availability', 'online').catch(() => undefined);
      await op.waitFor((m) => m.topic === 'faceedge/board-a/availability', 10_000, "board-a's own message");
      await op.publish('faceedge/board-b/model/push/x/begin', '{}');
      await op.publish('faceedge/board-a/model/push/x/begin', '{}');
      await new Promise((r) => setTimeout(r, 500));
      expect(op.messages.map((m) => m.topic).filter((t) => t.endsWith('/availability'))).toEqual([
        'faceedge/board-a/availability',
      ]);
      expect(a.messages).toEqual([]);
      // No certificate from the site CA: no connection at all.
      const anon = await MqttProbe.connect(url, [], {
        ca: readFileSync(join(creds, 'ca.pem')),
        reconnectPeriod: 0,
        connectTimeout: 3000,
      }).then(
        () => 'connected',
        () => 'refused',
      );
      expect(anon).toBe('refused');
    } finally {
      await a.close();
      await op.close();
      await tlsBroker.dispose();
    }
  }, 60_000);
});
