/**
 * The daemon's broker credentials, with the real daemon and a real Mosquitto with a password file:
 * - a refused login (wrong password) is retried with backoff, logged naming mqtt.username/mqtt.password,
 *   makes /healthz not ready with the broker's reason, and heals by itself once the broker's password
 *   file is fixed (no restart of the daemon);
 * - secrets in the YAML, in the environment and inside URLs (broker and RTSP camera) never appear in
 *   anything the daemon writes (stdout logs, stderr) nor in what it publishes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { httpGet } from '../helpers/http-get.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { waitUntil } from '../helpers/wait-until.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');

interface Health {
  ready: boolean;
  reasons: string[];
  broker_connected: boolean;
  broker_problem: { kind: string; message: string; hint?: string } | null;
}

/** GETs /healthz every 200 ms until `until` holds (or 20 s passed); the last answer. */
async function pollHealth(port: number, until: (h: Health) => boolean): Promise<{ status: number; body: Health }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await httpGet(port, '/healthz');
    const answer = { status: r.status, body: JSON.parse(r.body) as Health };
    if (until(answer.body) || Date.now() > deadline) return answer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Lines of the broker's log saying it refused a client (one per connection attempt). */
function refusals(broker: Mosquitto): number {
  return broker.log.split('\n').filter((l) => /not authori[sz]ed|bad user ?name or password/i.test(l)).length;
}

describe.skipIf(!classifier)(`broker credentials with the real daemon (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  let dir: string;
  const daemons: DaemonProcess[] = [];
  const brokers: Mosquitto[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-broker-credentials-'));
  });
  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.dispose()));
    await Promise.all(brokers.map((b) => b.dispose()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('a refused login is retried with backoff, named in the log, makes /healthz not ready, and heals when the broker accepts it', async () => {
    const broker = await Mosquitto.start({ users: { cam: 'the-right-one' } });
    brokers.push(broker);
    const httpPort = await freePort();
    const stateDir = join(dir, 'refused');
    const daemon = DaemonProcess.start(
      daemonConfig({
        brokerUrl: broker.url,
        stateDir,
        httpPort,
        cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
        extra: { mqtt: { username: 'cam', password: 'not-the-right-one' } },
      }),
      { dir, classifier: classifier!, file: 'refused.yaml' },
    );
    daemons.push(daemon);
    await daemon.waitRunning();

    const refusal = await daemon.waitForLog(
      (l) => l.level === 50 && /refused the login/.test(l.msg),
      20_000,
      'the refused-login error',
    );
    expect(refusal.msg).toContain('mqtt.username');
    expect(refusal.msg).toContain('mqtt.password');
    expect(String(refusal.err)).toMatch(/Not authorized|Bad user ?name or password/i);

    // Retried, not given up after the first refusal (MQTT.js's default), and logged once, not per retry.
    await waitUntil(() => refusals(broker) >= 3, 20_000, 'three refused connection attempts');
    expect(daemon.logs.filter((l) => /refused the login/.test(l.msg))).toHaveLength(1);

    // Not ready, with the broker's reason and the keys to check; the cameras themselves are fine.
    let report = await pollHealth(httpPort, (h) => h.reasons.some((r) => r.startsWith('MQTT')));
    expect(report.status).toBe(503);
    expect(report.body).toMatchObject({
      ready: false,
      broker_connected: false,
      broker_problem: { kind: 'login_refused' },
    });
    expect(report.body.reasons.join('\n')).toMatch(
      /MQTT broker refused the connection: .*mqtt\.username\/mqtt\.password/,
    );

    // The administrator fixes the account on the broker: the daemon gets in by itself and is ready.
    broker.setUsers({ cam: 'not-the-right-one' });
    await daemon.waitForLog((l) => l.msg === 'MQTT connected', 90_000, 'the connection after the fix');
    report = await pollHealth(httpPort, (h) => h.ready);
    expect(report.body).toMatchObject({ ready: true, broker_connected: true, broker_problem: null });
    daemon.signal('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
  }, 150_000);

  it('never writes or publishes a secret from the YAML, the environment or a URL', async () => {
    const URL_SECRET = 'urlS3cret-4711';
    const YAML_SECRET = 'yamlS3cret-0815';
    const ENV_SECRET = 'envS3cr@t/42';
    const broker = await Mosquitto.start({ users: { cam: URL_SECRET, watcher: 'w' } });
    brokers.push(broker);
    const deadPort = await freePort();
    const stateDir = join(dir, 'secrets');
    // The RTSP camera's server does not exist: ffmpeg fails and says so, quoting its URL.
    const cameras = [
      { name: 'walk', source: { type: 'gif', path: CLIP, fps: 0 } },
      {
        name: 'gate',
        source: { type: 'rtsp', path: `rtsp://admin:${encodeURIComponent(ENV_SECRET)}@127.0.0.1:${deadPort}/stream1` },
      },
    ];
    const probe = await MqttProbe.connect(broker.url, [`faceedge/${TEST_DEVICE}/#`], {
      username: 'watcher',
      password: 'w',
    });
    const daemon = DaemonProcess.start(
      daemonConfig({
        brokerUrl: `mqtt://cam:${URL_SECRET}@127.0.0.1:${broker.port}`,
        stateDir,
        cameras: [],
        extra: { mqtt: { username: 'cam', password: YAML_SECRET } },
      }),
      { dir, classifier: classifier!, file: 'secrets.yaml', env: { FACEEDGE_CAMERAS: JSON.stringify(cameras) } },
    );
    daemons.push(daemon);
    await daemon.waitRunning();
    await daemon.waitForLog((l) => l.msg === 'MQTT connected');
    // The RTSP camera failed at least once (its reason, from ffmpeg's stderr, is logged).
    await daemon.waitForLog((l) => l.camera === 'gate' && l.level >= 40, 30_000, 'the RTSP camera failure');
    await probe.waitFor((m) => m.topic.endsWith('/bridge/info'), 10_000, 'bridge/info');
    daemon.signal('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    await probe.close();

    const written = `${daemon.logs.map((l) => JSON.stringify(l)).join('\n')}\n${daemon.stderr}`;
    const published = probe.messages.map((m) => `${m.topic} ${m.text}`).join('\n');
    for (const secret of [URL_SECRET, YAML_SECRET, ENV_SECRET, encodeURIComponent(ENV_SECRET)]) {
      expect(written, `written output contains ${secret}`).not.toContain(secret);
      expect(published, `published messages contain ${secret}`).not.toContain(secret);
    }
    // What is logged instead: the URLs with their user names and a mask.
    expect(written).toContain(`mqtt://cam:***@127.0.0.1:${broker.port}`);
    expect(published).toContain('rtsp://admin:***@127.0.0.1');
  }, 90_000);
});
