/**
 * `faceedge fleet credentials` against a real Mosquitto run as Debian runs it: started as root from a
 * main config that includes the written `broker/mosquitto.conf` from a conf.d folder, so it drops to
 * the `mosquitto` user before it reads the written password, ACL and certificate files. A real daemon
 * (board-b) works under its own account; board-a's account cannot take board-b's MQTT session over
 * (client ids are pinned to accounts), cannot publish under board-b's prefix, read board-b's pushes or
 * requests, or push it a model; the operator, on its own listener, can. The same with client
 * certificates from the site CA.
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
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
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';

const SOURCE = modelPackageSource();
const isRoot = process.getuid?.() === 0;
const mosquittoUid = (() => {
  try {
    return Number(execFileSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' }).trim());
  } catch {
    return null;
  }
})();
const CANNOT = !SOURCE
  ? NO_MODEL_PACKAGE_REASON
  : !isRoot || mosquittoUid === null
    ? 'needs root and the mosquitto user (Debian: apt-get install mosquitto) to start the broker as its service does'
    : null;

describe.skipIf(CANNOT !== null)(
  `per-device broker credentials, pinned client ids and the ACL (${CANNOT ?? 'root'})`,
  () => {
    // /tmp/<mkdtemp> is 0700: the broker's user must be able to reach <out>/broker/, as under /etc.
    const work = mkdtempSync(join(tmpdir(), 'faceedge-fleet-creds-'));
    const creds = join(work, 'creds');
    const password = (user: string) => readFileSync(join(creds, 'passwords', `${user}.txt`), 'utf8').trim();
    const ports = { boards: 0, tls: 0, operators: 0 };
    const credentialArgs = () => [
      '--out',
      creds,
      '--certs',
      '--server-name',
      '127.0.0.1',
      '--port',
      String(ports.boards),
      '--tls-port',
      String(ports.tls),
      '--operator-port',
      String(ports.operators),
    ];
    const boardsUrl = () => `mqtt://127.0.0.1:${ports.boards}`;
    const operatorUrl = () => `mqtts://127.0.0.1:${ports.operators}`;
    const operatorAuth = () => ({ username: 'operator', password: password('operator'), ca: join(creds, 'ca.pem') });
    let broker: Mosquitto;
    let fleet: TestFleet;
    let operator: FleetConnection;

    beforeAll(async () => {
      chmodSync(work, 0o755);
      Object.assign(ports, { boards: await freePort(), tls: await freePort(), operators: await freePort() });
      const r = await runFaceedge(['fleet', 'credentials', 'board-a', 'board-b', ...credentialArgs()]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/broker: .*broker\/ belongs to mosquitto/);
      // Debian's layout: /etc/mosquitto/mosquitto.conf includes conf.d/, where the written file is linked.
      const confD = join(work, 'conf.d');
      mkdirSync(confD);
      symlinkSync(join(creds, 'broker/mosquitto.conf'), join(confD, 'faceedge.conf'));
      const main = join(work, 'mosquitto.conf');
      writeFileSync(main, `persistence false\nlog_dest stderr\ninclude_dir ${confD}\n`);
      broker = await Mosquitto.startConfigured(main, ports.operators);
      fleet = new TestFleet(work, boardsUrl(), SOURCE!);
      await fleet.start([{ id: 'board-b', mqtt: { username: 'board-b', password: password('board-b') } }]);
      operator = await FleetConnection.open({ url: operatorUrl(), auth: operatorAuth() });
      await operator.settle();
    }, 150_000);

    afterAll(async () => {
      await operator?.close();
      await fleet?.dispose();
      await broker?.dispose();
      rmSync(work, { recursive: true, force: true });
    });

    it("hands the broker's files to its user, readable by nobody else; keeps the CA key and board passwords away from it", () => {
      const mode = (f: string) => statSync(join(creds, f)).mode & 0o777;
      const owner = (f: string) => statSync(join(creds, f)).uid;
      expect([mode('broker'), owner('broker')]).toEqual([0o750, mosquittoUid]);
      for (const f of ['boards.passwd', 'operators.passwd', 'mosquitto.acl', 'server.key'])
        expect([f, mode(`broker/${f}`), owner(`broker/${f}`)]).toEqual([f, 0o600, mosquittoUid]);
      for (const f of ['mosquitto.conf', 'ca.pem', 'server.pem']) expect(owner(`broker/${f}`)).toBe(mosquittoUid);
      expect([mode('ca.key'), owner('ca.key')]).toEqual([0o600, 0]);
      expect([mode('passwords'), owner('passwords')]).toEqual([0o700, 0]);
      expect(lstatSync(join(creds, 'broker/ca.key'), { throwIfNoEntry: false })).toBeUndefined();
      // The running broker is the mosquitto user, and it read those files (board-b and the operator are in).
      const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${broker.pid}/status`, 'utf8'))?.[1];
      expect(Number(uid)).toBe(mosquittoUid);
    });

    it('writes hashed passwords, boards and operators apart, and re-running keeps them', async () => {
      const users = (f: string) =>
        readFileSync(join(creds, 'broker', f), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(':')[0]);
      expect(users('boards.passwd')).toEqual(['board-a', 'board-b']);
      expect(users('operators.passwd')).toEqual(['operator']);
      expect(readFileSync(join(creds, 'broker/boards.passwd'), 'utf8')).not.toContain(password('board-a'));
      const before = password('board-b');
      const r = await runFaceedge(['fleet', 'credentials', 'board-a', 'board-b', 'board-c', ...credentialArgs()]);
      expect(r.stdout).toMatch(/1 new: board-c/);
      expect(password('board-b')).toBe(before);
      expect(users('boards.passwd')).toEqual(['board-a', 'board-b', 'board-c']);
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

    it("board-a's account cannot take board-b's session: its client id is its own user name", async () => {
      const availability: string[] = [];
      const watch = await MqttProbe.connect(operatorUrl(), ['faceedge/board-b/availability'], {
        ...operatorAuth(),
        ca: readFileSync(join(creds, 'ca.pem')),
      });
      const tls = (who: string): IClientOptions => ({
        ca: readFileSync(join(creds, 'ca.pem')),
        cert: readFileSync(join(creds, `certs/${who}.pem`)),
        key: readFileSync(join(creds, `certs/${who}.key`)),
      });
      const intruders: MqttProbe[] = [];
      const connects = () => fleet.board('board-b').logs.filter((l) => l.msg === 'MQTT connected').length;
      const connectsBefore = connects();
      try {
        await watch.waitFor((m) => m.text === 'online', 10_000, "board-b's retained availability");
        watch.client.on('message', (_t, p) => availability.push(p.toString()));
        // One at a time: all of them are pinned to the client id board-a, so each would end the one before.
        for (const clientId of ['faceedge-board-b', 'board-b'])
          for (const options of [
            { url: boardsUrl(), auth: { username: 'board-a', password: password('board-a') } },
            { url: `mqtts://127.0.0.1:${ports.tls}`, auth: tls('board-a') },
          ]) {
            const p = await MqttProbe.connect(options.url, [], { ...options.auth, clientId, reconnectPeriod: 0 });
            intruders.push(p);
            await new Promise((r) => setTimeout(r, 1000));
            expect(p.client.connected, `board-a as ${clientId} on ${options.url}`).toBe(true); // in, as board-a
            await p.close();
          }
        // …and board-b never dropped: no will, no reconnect.
        expect(availability).toEqual([]);
        expect(connects()).toBe(connectsBefore);
        const h = await operator.request('board-b', 'health_check');
        expect(h.status).toBe('ok');
        // A board's password is no use on the operators' listener, where client ids are free.
        const onOperators = await MqttProbe.connect(operatorUrl(), [], {
          username: 'board-a',
          password: password('board-a'),
          ca: readFileSync(join(creds, 'ca.pem')),
          clientId: 'faceedge-board-b',
          reconnectPeriod: 0,
          connectTimeout: 5000,
        }).then(
          () => 'connected',
          (e: Error) => e.message,
        );
        expect(onOperators).toMatch(/not authori[sz]ed|bad user name or password/i);
        // Operators keep several sessions at once (a rollout opens one per push).
        const second = await FleetConnection.open({ url: operatorUrl(), auth: operatorAuth() });
        await second.settle();
        expect((await second.request('board-b', 'health_check')).status).toBe('ok');
        expect((await operator.request('board-b', 'health_check')).status).toBe('ok');
        await second.close();
      } finally {
        for (const p of intruders) await p.close();
        await watch.close();
      }
    }, 60_000);

    it("board-a cannot publish under board-b's prefix, read its pushes or requests, or push it a model; the operator can", async () => {
      const a = await MqttProbe.connect(boardsUrl(), [], {
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
          const t = setTimeout(
            () => reject(new Error("board-a's own availability never reached the operator")),
            10_000,
          );
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
          url: boardsUrl(),
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
          url: operatorUrl(),
          deviceId: 'board-b',
          mqtt: { username: 'operator', password: password('operator'), ca: readFileSync(join(creds, 'ca.pem')) },
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

    it('with client certificates (CN = device id) the same ACL applies; without one, no connection', async () => {
      const url = `mqtts://127.0.0.1:${ports.tls}`;
      const ca = readFileSync(join(creds, 'ca.pem'));
      const op = await MqttProbe.connect(operatorUrl(), ['faceedge/#'], { ...operatorAuth(), ca, protocolVersion: 5 });
      const a = await MqttProbe.connect(url, ['faceedge/board-b/#'], {
        ca,
        cert: readFileSync(join(creds, 'certs/board-a.pem')),
        key: readFileSync(join(creds, 'certs/board-a.key')),
        protocolVersion: 5,
      });
      try {
        await a.publish('faceedge/board-b/availability', 'offline').catch(() => undefined);
        await a.publish('faceedge/board-a/availability', 'online').catch(() => undefined);
        await op.waitFor(
          (m) => m.topic === 'faceedge/board-a/availability' && !m.retain,
          10_000,
          "board-a's own message",
        );
        await op.publish('faceedge/board-b/model/push/x/begin', '{}');
        await new Promise((r) => setTimeout(r, 500));
        expect(op.messages.filter((m) => !m.retain && m.topic === 'faceedge/board-b/availability')).toEqual([]);
        expect(a.messages).toEqual([]);
        const anon = await MqttProbe.connect(url, [], { ca, reconnectPeriod: 0, connectTimeout: 3000 }).then(
          () => 'connected',
          () => 'refused',
        );
        expect(anon).toBe('refused');
      } finally {
        await a.close();
        await op.close();
      }
    }, 60_000);
  },
);
