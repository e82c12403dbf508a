/**
 * Several models per face (issue 24 §3) in the real daemon against Mosquitto: a `classifiers:` list of the
 * shipped gender int8 model twice, under two names, the second on a slow cadence. Every event carries both
 * attributes, the first one equal to the top-level class and score; the second model classifies fewer
 * frames (its own interval; `/metrics` times its share of the classify stage apart); Home Assistant
 * discovery has its entities on every camera. `model/reload` and `model/rollback` address a model by name.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, runFaceedge, TEST_DEVICE } from '../helpers/daemon-process.js';
import { freePort } from '../helpers/free-port.js';
import { httpGet, metricValue } from '../helpers/http-get.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { eventsOn } from '../helpers/track-events.js';
import { copyModelPackage } from '../helpers/model-package-fixture.js';

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
        // The first model classifies every frame; the second one only a track's first frames (and unclear
        // faces, none with hysteresis 0: a two-label confidence is never below 0.5).
        tracker: { update_interval_ms: 250, classify_interval_ms: 0, hysteresis: 0 },
        models: { require_signature: false },
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

  it('names every model in bridge/info, the first one also as model', async () => {
    const info = await probe.waitFor((m) => m.topic === `${ROOT}/bridge/info`, 30_000, 'bridge/info');
    const { model, models } = JSON.parse(info.text) as {
      model: { id: string };
      models: Array<Record<string, unknown>>;
    };
    expect(models.map((m) => [m.name, m.id, m.installed])).toEqual([
      ['gender', 'faceedge-gender', 'classifier.model'],
      ['gender_slow', 'faceedge-gender', 'classifier.model'],
    ]);
    expect(models[0]).toEqual({ name: 'gender', ...model });
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
    // Long enough for a track to pass its first frames: 60 frames classified by the first model.
    const deadline = Date.now() + 90_000;
    while (((body = (await httpGet(httpPort, '/metrics')).body), !(count('classify.gender') >= 60))) {
      if (Date.now() > deadline) throw new Error(`the first model classified ${count('classify.gender')} frames`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const first = count('classify.gender');
    const slow = count('classify.gender_slow');
    expect(slow).toBeGreaterThan(0);
    // Every frame with a face runs the first model; the second one only a track's first three frames.
    expect(slow, `classified: first ${first}, second ${slow}`).toBeLessThan(first);
    expect(count('classify')).toBeGreaterThanOrEqual(first);
  });

  async function request(command: string, transaction: string, body: Record<string, unknown>) {
    const from = probe.messages.length;
    await probe.publish(`${ROOT}/bridge/request/${command}`, JSON.stringify({ transaction, ...body }));
    const reply = await probe.waitUntil(
      () =>
        probe.messages
          .slice(from)
          .find(
            (m) => m.topic === `${ROOT}/bridge/response/${command}` && JSON.parse(m.text).transaction === transaction,
          ),
      60_000,
      `the response to ${transaction}`,
    );
    return JSON.parse(reply.text) as { status: string; data: Record<string, any>; error?: string };
  }

  it('reloads and rolls back a model by name, the first one without a name; an unknown name is refused', async () => {
    const pkg = copyModelPackage(join(REPO_ROOT, 'models'), join(dir, 'slow-v2'), 'gender-slow-v2');
    const second = await request('model/reload', 'second', {
      name: 'gender_slow',
      model: join(pkg, 'faceedge-gender_int8.tflite'),
    });
    expect(second).toMatchObject({ status: 'ok', data: { name: 'gender_slow', id: 'gender-slow-v2' } });
    const first = await request('model/reload', 'first', {});
    expect(first).toMatchObject({ status: 'ok', data: { name: 'gender', id: 'faceedge-gender' } });
    // The first model's events still name the first model.
    const after = eventsOn(probe.messages, EVENTS).length;
    await probe.waitUntil(() => eventsOn(probe.messages, EVENTS).length > after, 60_000, 'an event after the reloads');
    expect(eventsOn(probe.messages, EVENTS).at(-1)?.after.model).toBe('faceedge-gender');

    // Its own store, models.dir/<name>: an install there (as an SSH push does it) serves it; a rollback retires it.
    const store = join(dir, 'state', 'models', 'gender_slow');
    const v3 = copyModelPackage(join(REPO_ROOT, 'models'), join(dir, 'slow-v3'), 'gender-slow-v3');
    const install = await runFaceedge(['model', 'install', v3, '--models-dir', store, '--allow-unsigned']);
    expect(install.code, install.stderr).toBe(0);
    await daemon.waitForLog((l) => l.msg === 'classifier swapped' && l.to === 'gender-slow-v3', 30_000);
    const firstBack = await request('model/rollback', 'first-back', {});
    expect(firstBack).toMatchObject({ status: 'error', data: { code: 'MODEL_NO_PREVIOUS' } });
    const back = await request('model/rollback', 'back', { name: 'gender_slow' });
    expect(back).toMatchObject({
      status: 'ok',
      data: {
        rolled_back: true,
        from: { id: 'gender-slow-v3' },
        model: { id: 'faceedge-gender' },
        source: 'configured',
      },
    });
    for (const command of ['model/reload', 'model/rollback']) {
      const unknown = await request(command, `unknown-${command}`, { name: 'age' });
      expect(unknown).toMatchObject({ status: 'error', data: { code: 'MODEL_NOT_FOUND' } });
      expect(unknown.error).toContain('no model named "age"');
    }
  }, 120_000);

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
