/**
 * Several models per face (issue 24 §3) in the real daemon against Mosquitto: a `classifiers:` list of the
 * shipped gender int8 model twice, under two names, the second on a slow cadence. Every event carries both
 * attributes, the first one equal to the top-level class and score; the second model classifies fewer
 * frames (its own interval; `/metrics` times its share of the classify stage apart); Home Assistant
 * discovery has its entities on every camera.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/free-port.js';
import { httpGet, metricValue } from '../helpers/http-get.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { eventsOn } from '../helpers/track-events.js';

const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const INT8 = join(REPO_ROOT, 'models/faceedge-gender_int8.tflite');
const ROOT = `faceedge/${TEST_DEVICE}`;
const EVENTS = `${ROOT}/walk/events`;

describe('a daemon with two models per face', () => {
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;
  let httpPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-several-models-'));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`, 'homeassistant/#']);
    httpPort = await freePort();
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      httpPort,
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      extra: {
        tracker: { update_interval_ms: 250 },
        classifiers: [
          { name: 'gender', model: INT8 },
          { name: 'gender_slow', model: INT8, interval_ms: 60_000 },
        ],
      },
    });
    daemon = DaemonProcess.start(config, { dir });
    await daemon.waitRunning(90_000);
    await probe.waitUntil(() => eventsOn(probe.messages, EVENTS).length >= 6, 90_000, 'six events');
  }, 180_000);
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes both attributes on every event, the first one as class and score', () => {
    const events = eventsOn(probe.messages, EVENTS);
    for (const e of events) {
      const { attributes } = e.after;
      expect(Object.keys(attributes ?? {}).sort(), `${e.type} ${e.after.id}`).toEqual(['gender', 'gender_slow']);
      expect(attributes?.gender).toEqual({ label: e.after.class, score: e.after.score });
      expect(['female', 'male', 'unknown']).toContain(attributes?.gender_slow.label);
    }
    // Both classify every one of a track's first frames: the same model says the same at `new`.
    for (const e of events.filter((x) => x.type === 'new'))
      expect(e.after.attributes?.gender_slow).toEqual(e.after.attributes?.gender);
  });

  it('runs the second model on its own, slower cadence, and times each model apart', { timeout: 120_000 }, async () => {
    let body = '';
    const count = (stage: string) =>
      metricValue(body, `faceedge_stage_duration_seconds_count{stage="${stage}",camera="walk"}`);
    // Long enough for a track to pass its first frames: 40 frames classified by the first model.
    const deadline = Date.now() + 90_000;
    while (((body = (await httpGet(httpPort, '/metrics')).body), !(count('classify.gender') >= 40))) {
      if (Date.now() > deadline) throw new Error(`the first model classified ${count('classify.gender')} frames`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const first = count('classify.gender');
    const slow = count('classify.gender_slow');
    expect(slow).toBeGreaterThan(0);
    // Every frame with a face runs the first model at least every 200 ms; the second one only while a
    // track is young or unclear.
    expect(slow).toBeLessThan(first);
    expect(count('classify')).toBeGreaterThanOrEqual(first);
  });

  it('announces the second model to Home Assistant: a label and a confidence sensor per camera', async () => {
    const discovery = await probe.waitFor(
      (m) => m.topic === `homeassistant/device/${TEST_DEVICE}/config` && m.text !== '',
      30_000,
      'HA discovery',
    );
    const cmps = (JSON.parse(discovery.text) as { cmps: Record<string, Record<string, unknown>> }).cmps;
    expect(cmps.walk_attr_gender_slow).toMatchObject({
      p: 'sensor',
      state_topic: EVENTS,
      device_class: 'enum',
      options: ['female', 'male'],
      value_template: "{{ value_json.after.attributes['gender_slow'].label }}",
    });
    expect(cmps.walk_attr_gender_slow_confidence).toMatchObject({ p: 'sensor', unit_of_measurement: '%' });
    // The first model keeps today's class and confidence entities, not a second copy.
    expect(cmps.walk_class).toBeDefined();
    expect(cmps.walk_attr_gender).toBeUndefined();
  });
});
