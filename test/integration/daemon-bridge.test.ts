/**
 * `bridge/request/<cmd>` → `bridge/response/<cmd>` against the real daemon while it processes a looping
 * clip: health_check, options (applied, republished in bridge/info; bad keys named), model/reload (same
 * model; a file that is not a model is refused and the old one keeps classifying), unknown commands and
 * malformed JSON. No request may stop the daemon or its events.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { NO_CLASSIFIER_REASON, testClassifierPath } from '../helpers/test-classifier.js';
import { eventsOn } from '../helpers/track-events.js';

const classifier = testClassifierPath();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const ROOT = `faceedge/${TEST_DEVICE}`;
const EVENTS = `${ROOT}/walk/events`;

interface BridgeResponse {
  status: 'ok' | 'error';
  data: Record<string, any>;
  error?: string;
  transaction?: string | number;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

describe.skipIf(!classifier)(`bridge requests to the real daemon (${classifier ?? NO_CLASSIFIER_REASON})`, () => {
  const model = classifier!;
  const manifest = JSON.parse(readFileSync(join(model, '..', 'manifest.json'), 'utf8')) as Record<string, any>;
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-bridge-'));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      // Unsigned packages are allowed here (a development board): the load, label and self-test checks are tested.
      extra: { tracker: { update_interval_ms: 250 }, models: { require_signature: false } },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: model });
    await daemon.waitRunning();
    await probe.waitFor((m) => m.topic === EVENTS, 30_000, 'a first event');
  });
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes a request body (raw text, so malformed JSON can be sent) and returns the next response. */
  async function request(
    command: string,
    body: string,
    responseTopic = `${ROOT}/bridge/response/${command}`,
  ): Promise<BridgeResponse> {
    const from = probe.messages.length;
    await probe.publish(`${ROOT}/bridge/request/${command}`, body);
    const reply = await probe.waitUntil(
      () => probe.messages.slice(from).find((m) => m.topic === responseTopic),
      15_000,
      `response on ${responseTopic}`,
    );
    expect(reply.retain).toBe(false);
    return JSON.parse(reply.text) as BridgeResponse;
  }

  /** The last event's seq so far; events after a request prove the daemon is still processing. */
  const lastSeq = () => eventsOn(probe.messages, EVENTS).at(-1)?.seq ?? 0;
  const eventAfter = (seq: number) =>
    probe.waitUntil(
      () => eventsOn(probe.messages, EVENTS).find((e) => e.seq > seq),
      20_000,
      `an event after seq ${seq}`,
    );

  it('health_check answers with the readiness report and echoes the transaction', async () => {
    const res = await request('health_check', JSON.stringify({ transaction: 'h-1' }));
    expect(res).toMatchObject({
      status: 'ok',
      transaction: 'h-1',
      data: { ready: true, reasons: [], started: true, broker_connected: true },
    });
    expect(res.data.model).toEqual({ id: manifest.id, sha256: sha256(model), delegate: 'xnnpack' });
    expect(res.data.last_frame_age_ms.walk).toBeLessThan(10_000);
  });

  it('options: a valid change is applied, answered and republished in bridge/info; a bad key is named and changes nothing', async () => {
    const from = probe.messages.length;
    const ok = await request(
      'options',
      JSON.stringify({ transaction: 'o-1', detector: { score_threshold: 0.6 }, tracker: { min_frames: 2 } }),
    );
    expect(ok).toMatchObject({ status: 'ok', transaction: 'o-1' });
    expect(ok.data.detector).toMatchObject({ score_threshold: 0.6, nms_iou: 0.3, model: 'full' });
    expect(ok.data.tracker).toMatchObject({ min_frames: 2, update_interval_ms: 250 });
    const info = await probe.waitUntil(
      () =>
        probe.messages
          .slice(from)
          .find(
            (m) => m.topic === `${ROOT}/bridge/info` && JSON.parse(m.text).options.detector.score_threshold === 0.6,
          ),
      10_000,
      'bridge/info with the new options',
    );
    expect(JSON.parse(info.text).options.tracker.min_frames).toBe(2);

    const bad = await request(
      'options',
      JSON.stringify({ transaction: 'o-2', detector: { score_treshold: 0.7 }, tracker: { min_frames: 0 } }),
    );
    expect(bad).toMatchObject({ status: 'error', transaction: 'o-2', data: { code: 'REQUEST_INVALID' } });
    expect(bad.error).toContain('detector.score_treshold: unknown key');
    expect(bad.error).toContain('tracker.min_frames');
    // Nothing of a refused request was applied.
    const now = await request('options', JSON.stringify({}));
    expect(now.data.detector.score_threshold).toBe(0.6);
    expect(now.data.tracker.min_frames).toBe(2);
  });

  it('model/reload: the same model reloads; a file that is not a model, or a model with other labels, is refused and the old model keeps classifying', async () => {
    const same = await request('model/reload', JSON.stringify({ transaction: 'r-1' }));
    expect(same).toMatchObject({
      status: 'ok',
      transaction: 'r-1',
      data: { id: manifest.id, path: model, sha256: sha256(model) },
    });

    // A text file under a manifest that lists it with the right checksum: only the model check can refuse it.
    const junk = join(dir, 'junk');
    mkdirSync(junk);
    const fake = join(junk, 'not-a-model_int8.tflite');
    writeFileSync(fake, 'this is a text file, not a TFLite flatbuffer\n'.repeat(100));
    const fakeManifest = structuredClone(manifest);
    fakeManifest.id = 'not-a-model';
    fakeManifest.files = {
      int8: {
        ...fakeManifest.files.int8,
        path: 'not-a-model_int8.tflite',
        sha256: sha256(fake),
        bytes: readFileSync(fake).length,
      },
    };
    writeFileSync(join(junk, 'manifest.json'), JSON.stringify(fakeManifest));

    const refused = await request('model/reload', JSON.stringify({ transaction: 'r-2', model: fake }));
    expect(refused).toMatchObject({ status: 'error', transaction: 'r-2', data: { code: 'MODEL_INVALID' } });
    expect(refused.error).toContain('not a TFLite model');

    // The real model, but its package's golden self-test does not hold: refused as `model install` would.
    const failing = join(dir, 'failing');
    mkdirSync(failing);
    copyFileSync(model, join(failing, basename(model)));
    const flipped = structuredClone(manifest);
    flipped.id = 'failing';
    flipped.files = { int8: manifest.files.int8 };
    flipped.selftest = manifest.selftest.map((c: Record<string, number>) => ({
      ...c,
      expected_probability: 1 - c.expected_probability!,
      expected_int8_probability: 1 - c.expected_int8_probability!,
    }));
    writeFileSync(join(failing, 'manifest.json'), JSON.stringify(flipped));
    const selftest = await request(
      'model/reload',
      JSON.stringify({ transaction: 'r-st', model: join(failing, basename(model)) }),
    );
    expect(selftest).toMatchObject({ status: 'error', transaction: 'r-st', data: { code: 'MODEL_SELFTEST_FAILED' } });

    // The real model under a manifest with other labels: it loads, but swapping it under running tracks
    // would publish its classes under the old names, so it is refused.
    const relabelled = join(dir, 'relabelled');
    mkdirSync(relabelled);
    copyFileSync(model, join(relabelled, basename(model)));
    writeFileSync(
      join(relabelled, 'manifest.json'),
      JSON.stringify({ ...manifest, id: 'relabelled', labels: ['cat', 'dog'], files: { int8: manifest.files.int8 } }),
    );
    const other = await request(
      'model/reload',
      JSON.stringify({ transaction: 'r-3', model: join(relabelled, basename(model)) }),
    );
    expect(other).toMatchObject({ status: 'error', transaction: 'r-3', data: { code: 'MODEL_SHAPE_MISMATCH' } });
    expect(other.error).toContain(`[cat, dog], the running model [${manifest.labels.join(', ')}]`);

    // Events keep coming after the refused reloads; the model that runs is what health_check and bridge/info name.
    const next = await eventAfter(lastSeq());
    expect(next.after.model).toBe(manifest.id);
    const health = await request('health_check', '');
    expect(health.data.model).toEqual({ id: manifest.id, sha256: sha256(model), delegate: 'xnnpack' });
    // bridge/info (retained) still names the model that runs.
    const late = await MqttProbe.connect(broker.url, [`${ROOT}/bridge/info`]);
    try {
      const info = await late.waitFor((m) => m.retain, 5000, 'retained bridge/info');
      expect(JSON.parse(info.text).model).toMatchObject({
        id: manifest.id,
        sha256: sha256(model),
        labels: manifest.labels,
        installed: 'classifier.model',
      });
    } finally {
      await late.close();
    }
  });

  it('unknown commands and malformed JSON get an error response, with the transaction when it can be read', async () => {
    const unknown = await request('frobnicate', JSON.stringify({ transaction: 7 }));
    expect(unknown).toMatchObject({ status: 'error', transaction: 7, data: { code: 'REQUEST_INVALID' } });
    expect(unknown.error).toMatch(/unknown command "frobnicate".*health_check.*model\/reload.*options/);

    const cut = await request('options', '{"transaction": "m-1", "detector": {"score_threshold": ');
    expect(cut).toMatchObject({ status: 'error', transaction: 'm-1', data: { code: 'REQUEST_INVALID' } });
    expect(cut.error).toMatch(/malformed JSON/);

    const garbage = await request('health_check', 'not json at all');
    expect(garbage.status).toBe('error');
    expect(garbage).not.toHaveProperty('transaction');
  });

  it('after all of that the daemon is still running and publishing, and stops cleanly', async () => {
    expect(daemon.exitStatus).toBeNull();
    await eventAfter(lastSeq());
    expect(daemon.logs.filter((l) => l.level >= 50).map((l) => l.msg)).toEqual([]);
    daemon.signal('SIGTERM');
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
  });
});
