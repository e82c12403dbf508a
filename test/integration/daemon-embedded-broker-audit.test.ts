/**
 * The embedded broker opened to the network, and the audit trail, against the real daemon (`faceedge run` as a
 * child process) with emulated GPIO:
 * - `config check` and `run` refuse `embedded_broker.host: 0.0.0.0` without a login (today's main accepted it);
 * - with `embedded_broker.auth`, a client on the LAN address without the login is refused, one with it gets in,
 *   and the daemon itself (logged in) runs: online, answering requests;
 * - `bridge/request/options` gives one audit log line and one `audit` message naming the sender's client id;
 *   a refused (invalid) one is audited as refused; two clients sending at once are each credited with their own;
 * - `model/reload` and `model/rollback` are audited;
 * - `gpio/<out>/set` is audited, carried out or refused;
 * - a model push's outcome is audited with the sender of its `begin`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync } from 'mqtt';
import { REDACTED } from '../../src/observability/redact-url.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE, type LogEntry } from '../helpers/daemon-process.js';
import { EmulatedGpio } from '../helpers/emulated-gpio.js';
import { freePort } from '../helpers/free-port.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT, runCli } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';

const classifier = testClassifierPath();
const STILL = join(REPO_ROOT, 'test/fixtures/scenes/astronaut.png');
const ROOT = `faceedge/${TEST_DEVICE}`;
const AUDIT = `${ROOT}/audit`;
const LOGIN = { username: 'operator', password: 'correct-horse-battery' };
const CHIP = 'gpiochip0';
const RELAY = 17;

/** This machine's first non-loopback IPv4 address (what a LAN client connects to); loopback when it has none. */
const LAN_ADDRESS =
  Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';

interface AuditMessage {
  ts: number;
  who: { client_id: string; username: string | null } | null;
  via: string;
  action: string;
  target: string;
  outcome: 'accepted' | 'refused' | 'failed';
  detail: Record<string, any>;
}

describe('config check and run refuse an embedded broker open to the network without a login', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(join(tmpdir(), 'faceedge-open-broker-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses host 0.0.0.0 alone with one CONFIG_INVALID line naming the key, and accepts it with a login', async () => {
    const open = join(dir, 'open.yaml');
    writeFileSync(open, 'embedded_broker: { host: 0.0.0.0 }\n');
    const env = { PATH: process.env.PATH };
    for (const args of [
      ['config', 'check', open],
      ['run', '--config', open],
    ]) {
      const r = await runCli(args, { env });
      expect(r.code, args.join(' ')).toBe(2);
      const problems = r.stderr.split('\n').filter((l) => l.includes('embedded_broker'));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/embedded_broker\.host: .*without a login.*set embedded_broker\.auth/);
    }
    const locked = join(dir, 'locked.yaml');
    writeFileSync(locked, `embedded_broker: { host: 0.0.0.0, auth: { username: op, password: pw } }\n`);
    const r = await runCli(['config', 'check', locked, '--print'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`"password": "${REDACTED}"`);
    expect(r.stdout).not.toContain('"pw"');
  });
});

describe.skipIf(!classifier)(
  `the embedded broker with a login, and the audit trail (${classifier ?? NO_CLASSIFIER_REASON})`,
  () => {
    let dir: string;
    let sim: EmulatedGpio;
    let daemon: DaemonProcess;
    let probe: MqttProbe;
    let url: string;
    const audits = () => probe.on(AUDIT).map((m) => JSON.parse(m.text) as AuditMessage);
    const auditLines = () => daemon.logs.filter((l) => l.component === 'audit');

    /** Waits for the audit message matching `match`, and checks it was sent once, not retained, and logged once. */
    async function audited(match: (a: AuditMessage) => boolean, what: string): Promise<AuditMessage> {
      const message = await probe.waitFor((m) => m.topic === AUDIT && match(JSON.parse(m.text)), 15_000, what);
      expect(message.retain).toBe(false);
      const record = JSON.parse(message.text) as AuditMessage;
      expect(audits().filter((a) => a.ts === record.ts && a.action === record.action)).toHaveLength(1);
      // The log line is written before the message is sent, but the two reach the test by different roads.
      const line = (l: LogEntry) => l.ts === record.ts && l.action === record.action;
      await probe.waitUntil(() => auditLines().some(line), 5000, `the log line of ${what}`);
      const lines = auditLines().filter(line);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 30, who: record.who, action: record.action, outcome: record.outcome });
      return record;
    }

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'faceedge-broker-audit-'));
      sim = new EmulatedGpio({
        version: '2.1.3',
        interactive: true,
        release: 'keep',
        chips: [{ name: CHIP, label: 'pinctrl-rp1', lines: 54 }],
      });
      const env = sim.env();
      const gpioEnv = Object.fromEntries(
        ['PATH', 'FACEEDGE_GPIO_SIM', 'FACEEDGE_GPIO_SIM_VERSION', 'FACEEDGE_GPIO_SIM_INTERACTIVE'].map((k) => [
          k,
          env[k]!,
        ]),
      );
      const port = await freePort();
      url = `mqtt://${LAN_ADDRESS}:${port}`;
      const config = daemonConfig({
        stateDir: join(dir, 'state'),
        // One still picture, slowly: the daemon keeps running; the test is about its requests.
        cameras: [{ name: 'door', source: { type: 'image', path: STILL, loop: true, fps: 1 } }],
        extra: {
          gpio: { backend: 'libgpiod', chip: 'pinctrl-rp1', outputs: { relay: { line: RELAY, safe: 'off' } } },
        },
      });
      config.embedded_broker = { host: '0.0.0.0', port, auth: LOGIN };
      daemon = DaemonProcess.start(config, { dir, classifier: classifier!, env: gpioEnv });
      await daemon.waitRunning(60_000);
      probe = await MqttProbe.connect(url, [`${ROOT}/#`], { ...LOGIN, clientId: 'probe-operator' });
    }, 90_000);

    afterAll(async () => {
      await probe?.close();
      await daemon?.dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    it('refuses a LAN client without the login or with a wrong one, lets one with it in; the daemon runs logged in', async () => {
      await expect(connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000 })).rejects.toThrow(
        /Bad username or password|Not authorized/,
      );
      await expect(
        connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, username: LOGIN.username, password: 'guess' }),
      ).rejects.toThrow(/Bad username or password|Not authorized/);
      // A client guessing: refused every time, logged once a minute per address (no log flood).
      for (let i = 0; i < 10; i++)
        await expect(
          connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, username: 'admin', password: `guess-${i}` }),
        ).rejects.toThrow(/Bad username or password|Not authorized/);
      const refusedLines = () => daemon.logs.filter((l) => l.msg === 'embedded broker refused a login');
      // The log reaches the test a little after the CONNACK.
      const first = await probe.waitUntil(() => refusedLines()[0], 5000, 'a refused-login line');
      expect(first).toMatchObject({ level: 40, username: null, refused_since_last_line: 1 });
      expect(JSON.stringify(daemon.logs)).not.toContain(LOGIN.password);
      expect(JSON.stringify(daemon.logs)).not.toContain('guess-');
      // The daemon's own client logged in: it is online and answers.
      expect((await probe.waitFor((m) => m.topic === `${ROOT}/availability`, 10_000, 'availability')).text).toBe(
        'online',
      );
      const from = probe.messages.length;
      await probe.publish(`${ROOT}/bridge/request/health_check`, '{}');
      const reply = await probe.waitUntil(
        () => probe.messages.slice(from).find((m) => m.topic === `${ROOT}/bridge/response/health_check`),
        10_000,
        'health_check response',
      );
      expect(JSON.parse(reply.text)).toMatchObject({ status: 'ok' });
      // health_check changes nothing: not audited.
      expect(audits().filter((a) => a.action === 'bridge/health_check')).toEqual([]);
      // 12 refusals in well under a minute from one address: one line.
      expect(refusedLines()).toHaveLength(1);
    });

    it('audits an options request once, in the log and on <dev>/audit, with the sender; a refused one as refused', async () => {
      await probe.publish(`${ROOT}/bridge/request/options`, '{"detector":{"score_threshold":0.6},"transaction":"t1"}');
      const ok = await audited((a) => a.action === 'bridge/options' && a.outcome === 'accepted', 'accepted options');
      expect(ok).toMatchObject({
        who: { client_id: 'probe-operator', username: 'operator' },
        via: 'embedded broker',
        target: 'thresholds',
        detail: { set: { detector: { score_threshold: 0.6 } } },
      });
      await probe.publish(`${ROOT}/bridge/request/options`, '{"detector":{"score_threshold":2}}');
      const no = await audited((a) => a.action === 'bridge/options' && a.outcome === 'refused', 'refused options');
      expect(no).toMatchObject({ who: { client_id: 'probe-operator' }, detail: { code: 'REQUEST_INVALID' } });
      expect(no.detail.error).toMatch(/score_threshold/);
    });

    it('credits two clients sending options at the same moment each with their own request', async () => {
      const others = await Promise.all(
        ['operator-a', 'operator-b'].map((clientId) => MqttProbe.connect(url, [], { ...LOGIN, clientId })),
      );
      try {
        const rounds = 5;
        for (let i = 0; i < rounds; i++)
          await Promise.all(
            others.map((p, k) =>
              p.publish(
                `${ROOT}/bridge/request/options`,
                JSON.stringify({ detector: { score_threshold: 0.31 + k * 0.1 + i * 0.01 }, transaction: `${k}-${i}` }),
              ),
            ),
          );
        const mine = () => audits().filter((a) => a.who?.client_id.startsWith('operator-'));
        await probe.waitUntil(() => mine().length === 2 * rounds, 15_000, `${2 * rounds} audit messages`);
        // operator-a sends thresholds 0.31…0.35, operator-b 0.41…0.45: each record must name the sender of its value.
        for (const a of mine()) {
          const sent = a.detail.set.detector.score_threshold as number;
          expect(a.who?.client_id, `threshold ${sent}`).toBe(sent < 0.4 ? 'operator-a' : 'operator-b');
        }
      } finally {
        await Promise.all(others.map((p) => p.close()));
      }
    });

    it('audits model reload and rollback with the sender', async () => {
      await probe.publish(`${ROOT}/bridge/request/model/reload`, '{}');
      const reload = await audited((a) => a.action === 'bridge/model/reload', 'model/reload');
      expect(reload).toMatchObject({
        who: { client_id: 'probe-operator' },
        outcome: 'accepted',
        target: classifier,
        detail: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      });
      // The store holds no installed model: nothing to roll back to, refused, and recorded as such.
      await probe.publish(`${ROOT}/bridge/request/model/rollback`, '{}');
      const rollback = await audited((a) => a.action === 'bridge/model/rollback', 'model/rollback');
      expect(rollback).toMatchObject({ who: { client_id: 'probe-operator' }, outcome: 'refused' });
      expect(rollback.detail.code).toMatch(/^[A-Z_]+$/);
    });

    it('audits a model push with the sender of its begin (a malformed begin here: refused)', async () => {
      await probe.publish(`${ROOT}/model/push/t0000001/begin`, '{}');
      const push = await audited((a) => a.action === 'model/push', 'model push');
      expect(push).toMatchObject({
        who: { client_id: 'probe-operator', username: 'operator' },
        outcome: 'refused',
        target: 't0000001',
        detail: { result: 'refused', code: 'REQUEST_INVALID' },
      });
    });

    it('audits GPIO set: carried out with the sender, malformed or unknown outputs refused', async () => {
      await probe.publish(`${ROOT}/gpio/relay/set`, 'ON');
      const on = await audited((a) => a.action === 'gpio/set' && a.outcome === 'accepted', 'accepted gpio set');
      expect(on).toMatchObject({
        who: { client_id: 'probe-operator', username: 'operator' },
        target: 'relay',
        detail: { command: { kind: 'set', on: true } },
      });
      expect(sim.level(CHIP, RELAY)).toBe(1);
      await probe.publish(`${ROOT}/gpio/relay/set`, 'OPEN SESAME');
      const bad = await audited((a) => a.action === 'gpio/set' && a.outcome === 'refused', 'refused gpio set');
      expect(bad).toMatchObject({
        target: 'relay',
        who: { client_id: 'probe-operator' },
        detail: { code: 'REQUEST_INVALID' },
      });
      await probe.publish(`${ROOT}/gpio/lock/set`, 'ON');
      await audited((a) => a.target === 'lock' && a.outcome === 'refused', 'refused unknown output');
      expect(sim.level(CHIP, RELAY)).toBe(1);
    });
  },
);
