/**
 * `faceedge run` end to end as a subscriber sees it: the real daemon (child process, real detector and
 * classifier) on a CC BY 4.0 scene clip, a real Mosquitto, and the MQTT contract of DESIGN.md —
 * availability and its last will, retained bridge/info, one new … end stream per tracked face,
 * face ON/OFF, capture status; plus /healthz and /metrics of the running daemon.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, manifestLabels, TEST_DEVICE } from '../helpers/daemon-process.js';
import { httpGet, metricValue } from '../helpers/http-get.js';
import { freePort, Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe, type ProbeMessage } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn, expectPlausible, expectTrackLives } from '../helpers/track-events.js';

const classifier = testClassifierPath();
/** Three adults walk toward the camera and stop facing it: 480x270, 41 frames @ 80 ms. */
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const ROOT = `faceedge/${TEST_DEVICE}`;
const T = {
  availability: `${ROOT}/availability`,
  info: `${ROOT}/bridge/info`,
  events: `${ROOT}/walk/events`,
  face: `${ROOT}/walk/face`,
  capture: `${ROOT}/walk/status/capture`,
};

const texts = (messages: readonly ProbeMessage[], topic: string) =>
  messages.filter((m) => m.topic === topic).map((m) => m.text);

describe.skipIf(!classifier)(
  `faceedge run → MQTT (real daemon, Mosquitto, scene clip; ${classifier ?? NO_CLASSIFIER_REASON})`,
  () => {
    const model = classifier!;
    let dir: string;
    let broker: Mosquitto | null = null;
    let daemon: DaemonProcess | null = null;
    const probes: MqttProbe[] = [];

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-mqtt-'));
    });
    afterEach(async () => {
      await daemon?.dispose();
      await Promise.all(probes.splice(0).map((p) => p.close()));
      await broker?.dispose();
      daemon = broker = null;
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    async function setUp(
      name: string,
      source: Record<string, unknown>,
      extra: Record<string, unknown> = {},
      httpPort = 0,
    ) {
      broker = await Mosquitto.start();
      const probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
      probes.push(probe);
      const notBefore = Date.now() / 1000;
      const config = daemonConfig({
        brokerUrl: broker.url,
        stateDir: join(dir, name),
        cameras: [{ name: 'walk', source }],
        httpPort,
        extra,
      });
      daemon = DaemonProcess.start(config, { dir, classifier: model, file: `${name}.yaml` });
      return { probe, daemon, notBefore };
    }

    it('plays a clip to its end: online, retained bridge/info, new/update/end per face, face ON→OFF, then exits 0 and goes offline', async () => {
      const { probe, daemon, notBefore } = await setUp(
        'once',
        { type: 'gif', path: CLIP, fps: 0 },
        { tracker: { update_interval_ms: 100 } },
      );
      // A finite source: the daemon stops by itself once the clip is processed.
      const exit = await Promise.race([
        daemon.exited,
        new Promise<never>((_, r) => setTimeout(() => r(new Error(daemon.describe())), 45_000)),
      ]);
      expect(exit, daemon.describe()).toEqual({ code: 0, signal: null });
      await probe.waitFor((m) => m.topic === T.availability && m.text === 'offline', 5000, 'availability offline');
      const messages = [...probe.messages];

      expect(texts(messages, T.availability)).toEqual(['online', 'offline']);
      expect(texts(messages, T.capture)).toEqual(['online', 'offline']);
      const face = texts(messages, T.face);
      // The true state from the start (no face yet: a crashed run may have left ON retained), then the face.
      expect(face.slice(0, 2)).toEqual(['OFF', 'ON']);
      expect(face.at(-1)).toBe('OFF');

      const info = JSON.parse(texts(messages, T.info)[0]!) as {
        model: { id: string; sha256: string };
        delegate: { active: string };
        detector: { model: string };
        cameras: string[];
      };
      const manifest = JSON.parse(readFileSync(join(model, '..', 'manifest.json'), 'utf8')) as { id: string };
      expect(info.model).toMatchObject({
        id: manifest.id,
        sha256: createHash('sha256').update(readFileSync(model)).digest('hex'),
        installed: 'classifier.model',
        version: null,
      });
      expect(info.delegate.active).toBe('xnnpack');
      expect(info.detector.model).toBe('full');
      expect(info.cameras).toEqual(['walk']);

      const events = eventsOn(messages, T.events);
      const types = new Set(events.map((e) => e.type));
      expect([...types].sort()).toEqual(['end', 'new', 'update']);
      // Three people, each followed from first sight to the end of the clip as one track.
      expect(new Set(events.map((e) => e.after.id))).toEqual(new Set(['walk-1', 'walk-2', 'walk-3']));
      const plausible = {
        width: 480,
        height: 270,
        labels: manifestLabels(model),
        model: manifest.id,
        camera: 'walk',
        minFacePx: 24,
        notBefore,
      };
      for (const e of events) expectPlausible(e, plausible);
      expectTrackLives(events, { ended: true });
      expect(events[0]!.seq).toBe(1);

      // Retained: a subscriber arriving after the daemon is gone still learns its state and model.
      const late = await MqttProbe.connect(broker!.url, [T.availability, T.info, T.face]);
      probes.push(late);
      await late.waitUntil(() => late.messages.length >= 3, 5000, 'retained messages');
      expect(late.messages.every((m) => m.retain)).toBe(true);
      expect(texts(late.messages, T.availability)).toEqual(['offline']);
      expect(texts(late.messages, T.face)).toEqual(['OFF']);
      expect(JSON.parse(texts(late.messages, T.info)[0]!).model.sha256).toBe(info.model.sha256);
    });

    it('while looping: /healthz is ready and /metrics counts frames and times every stage; SIGTERM ends every track, then offline, exit 0', async () => {
      const httpPort = await freePort();
      const { probe, daemon } = await setUp('loop', { type: 'gif', path: CLIP, loop: true }, {}, httpPort);
      const running = await daemon.waitRunning();
      expect(running.health_port).toBe(httpPort);
      await probe.waitFor((m) => m.topic === T.events && JSON.parse(m.text).type === 'new', 30_000, 'a new event');

      const health = await httpGet(httpPort, '/healthz');
      expect(health.status, health.body).toBe(200);
      const report = JSON.parse(health.body) as {
        ready: boolean;
        broker_connected: boolean;
        last_frame_age_ms: Record<string, number>;
        model: { id: string };
      };
      expect(report).toMatchObject({ ready: true, broker_connected: true, reasons: [] });
      expect(report.last_frame_age_ms.walk).toBeLessThan(10_000);
      expect(report.model.id).toBe(JSON.parse(texts(probe.messages, T.info)[0]!).model.id);

      const metrics = await httpGet(httpPort, '/metrics');
      expect(metrics.status).toBe(200);
      const value = (sample: string) => metricValue(metrics.body, sample);
      expect(value('faceedge_frames_total{camera="walk"}')).toBeGreaterThan(0);
      for (const stage of ['decode', 'detect', 'align', 'classify', 'track', 'publish']) {
        const count = value(`faceedge_stage_duration_seconds_count{stage="${stage}",camera="walk"}`);
        expect(count, `stage ${stage}`).toBeGreaterThan(0);
        // Every observation lands in the +Inf bucket: the histogram is complete, not just a counter.
        expect(value(`faceedge_stage_duration_seconds_bucket{le="+Inf",stage="${stage}",camera="walk"}`)).toBe(count);
      }
      expect(value('faceedge_events_total{camera="walk",type="new"}')).toBeGreaterThan(0);
      expect(value('faceedge_mqtt_connected')).toBe(1);

      daemon.signal('SIGTERM');
      const exit = await daemon.exited;
      expect(exit, daemon.describe()).toEqual({ code: 0, signal: null });
      const offline = await probe.waitFor(
        (m) => m.topic === T.availability && m.text === 'offline',
        5000,
        'availability offline',
      );
      const messages = [...probe.messages];
      const events = eventsOn(messages, T.events);
      // A graceful stop closes every open track, and delivers those ends before saying offline.
      expectTrackLives(events, { ended: true });
      const lastEventAt = messages.map((m) => m.topic).lastIndexOf(T.events);
      expect(messages.indexOf(offline)).toBeGreaterThan(lastEventAt);
      expect(texts(messages, T.face).at(-1)).toBe('OFF');
      expect(daemon.logs.some((l) => l.msg === 'faceedge stopped')).toBe(true);
    });

    it('SIGKILL: the broker publishes the retained last will, availability offline', async () => {
      const { probe, daemon } = await setUp(
        'kill',
        { type: 'gif', path: CLIP, loop: true },
        { mqtt: { keepalive: 2 } },
      );
      await daemon.waitRunning();
      await probe.waitFor((m) => m.topic === T.availability && m.text === 'online', 10_000, 'availability online');
      await probe.waitFor((m) => m.topic === T.capture && m.text === 'online', 10_000, 'capture online');
      const killedAt = Date.now();
      daemon.signal('SIGKILL');
      expect(await daemon.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // Nothing of the daemon ran after the kill: this `offline` is the will, sent by Mosquitto.
      await probe.waitFor(
        (m) => m.topic === T.availability && m.text === 'offline',
        1.5 * 2000 + 3000,
        'the last will',
      );
      expect(Date.now() - killedAt).toBeLessThan(1.5 * 2000 + 3000);
      expect(daemon.logs.some((l) => l.msg === 'stopping' || l.msg === 'faceedge stopped')).toBe(false);
      const late = await MqttProbe.connect(broker!.url, [T.availability]);
      probes.push(late);
      const will = await late.waitFor((m) => m.topic === T.availability, 5000, 'retained availability');
      expect(will).toMatchObject({ text: 'offline', retain: true });
    });
  },
);
