/**
 * The age pair pushed over a real Mosquitto to a real daemon (issue 24 §3): `classifiers: [gender, age + head]`.
 * The image model and its head travel as one transfer, install as one version of the age model's store and swap
 * at run time (`head swapped`, then the image model); a head alone is installed beside the serving image model;
 * the bridge's `model/rollback` by name takes back what was pushed together. Refused, with the serving pair left
 * as it was: a head pushed to a model without a head slot (at `begin`, nothing stored), an unsigned head, a head
 * paired with another image model, a head pinned to another embedder than the board runs (recognition is on), and
 * a pair larger than the board's transfer budget.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/model-push/model-package.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { writeGalleryKey } from '../../src/recognition/gallery-key.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import {
  AGE_DIR,
  AGE_HEAD_DIR,
  ageHeadPackage,
  ageImagePackage,
  agePairMissing,
  agePairPackage,
} from '../helpers/age-pair-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const ROOT = `faceedge/${TEST_DEVICE}`;
const missing = agePairMissing();
/** The transfer budget: the image model alone fits, the pair with a 1 MB padded head does not. */
const BUDGET = 1_400_000;

describe.skipIf(missing !== null)(`pushing the age pair over MQTT (${missing ?? 'models/age present'})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-head-push-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pubPem = join(work, 'model-signing.pub.pem');
  const keyFile = join(work, 'gallery.key');
  const ageStore = join(work, 'state', 'models', 'age');
  const transfers = join(work, 'state', 'model-transfers');
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;
  let n = 0;
  const fresh = () => join(work, `pkg-${n++}`);
  const versions = () => (existsSync(join(ageStore, 'versions')) ? readdirSync(join(ageStore, 'versions')) : []);
  const current = () => readlinkSync(join(ageStore, 'current'));
  const push = (dir: string, name: string, head?: string) =>
    pushModelOverMqtt({ dir, head, url: broker.url, deviceId: TEST_DEVICE, name, timeoutMs: 120_000 });
  const refusal = (dir: string, name: string) =>
    push(dir, name).then(
      (r) => {
        throw new Error(`installed: ${JSON.stringify(r.status)}`);
      },
      (err: Error) => err.message,
    );

  beforeAll(async () => {
    writeFileSync(pubPem, publicKey.export({ type: 'spki', format: 'pem' }));
    await writeGalleryKey(keyFile);
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/bridge/#`]);
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(work, 'state'),
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      extra: {
        tracker: { update_interval_ms: 250 },
        models: { public_key: pubPem, push: { budget_bytes: BUDGET } },
        // Recognition on: the board runs the embedder, so a head is checked against its pin at install.
        recognition: { enabled: true, key_file: keyFile },
        classifiers: [
          { name: 'gender', model: join(REPO_ROOT, 'models/faceedge-gender_int8.tflite') },
          {
            name: 'age',
            model: join(AGE_DIR, 'faceedge-age_int8.tflite'),
            head: join(AGE_HEAD_DIR, 'faceedge-age-head_float32.tflite'),
            interval_ms: 1000,
          },
        ],
      },
    });
    daemon = DaemonProcess.start(config, { dir: work });
    await daemon.waitRunning(90_000);
  }, 120_000);
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs the pair as one version and swaps the head, then the image model, without a restart', async () => {
    const from = daemon.logs.length;
    const r = await push(
      ageImagePackage(fresh(), privateKey, 'faceedge-age-b'),
      'age',
      ageHeadPackage(fresh(), privateKey),
    );
    expect(r.status).toMatchObject({
      state: 'installed',
      model: { id: 'faceedge-age-b', head: { id: 'faceedge-age-head' } },
    });
    expect(versions()).toEqual([r.status.model?.version]);
    expect(existsSync(join(ageStore, 'versions', versions()[0], 'head', 'manifest.json'))).toBe(true);
    const swapped = await daemon.waitForLog(
      (l) => l.msg === 'head swapped' && l.model === 'age' && daemon.logs.indexOf(l) >= from,
      30_000,
      'the head swapped',
    );
    expect(swapped).toMatchObject({ from: { id: 'faceedge-age-head' }, to: { id: 'faceedge-age-head' } });
    await daemon.waitForLog(
      (l) =>
        l.model === 'age' && l.msg === 'classifier swapped' && daemon.logs.indexOf(l) > daemon.logs.indexOf(swapped),
      30_000,
      'the image model swapped after its head',
    );
    expect(
      daemon.logs.some((l) => /not the one its head was paired with/.test(l.msg) && daemon.logs.indexOf(l) >= from),
    ).toBe(false);
  }, 180_000);

  /** The `current` link after the pair's push (what the rollback must come back to). */
  let pairVersion = '';

  it('installs a head alone beside the serving image model, as a new version of it', async () => {
    pairVersion = current();
    const head = ageHeadPackage(fresh(), privateKey, (m) => (m.created = '2026-12-07T20:00:00+00:00'));
    const r = await push(head, 'age');
    expect(r.status).toMatchObject({
      state: 'installed',
      model: { id: 'faceedge-age-b', previous: pairVersion.replace('versions/', '') },
    });
    expect(current()).not.toBe(pairVersion);
    await daemon.waitForLog(
      (l) =>
        l.msg === 'head swapped' &&
        l.model === 'age' &&
        JSON.stringify(l.to).includes('faceedge-age-head') &&
        daemon.logs.filter((x) => x.msg === 'head swapped').length >= 2,
      30_000,
      'the second head swap',
    );
  }, 180_000);

  it('refuses a head for a model without a head slot at begin, storing nothing', async () => {
    const message = await refusal(agePairPackage(fresh(), privateKey), 'gender');
    expect(message).toMatch(/no head slot/);
    expect(existsSync(transfers) ? readdirSync(transfers) : []).toEqual([]);
    expect(existsSync(join(work, 'state', 'models', 'versions'))).toBe(false);
  }, 180_000);

  it('refuses an unsigned head, a head paired with another image model and one pinned to another embedder', async () => {
    const before = current();
    expect(await refusal(agePairPackage(fresh(), privateKey, undefined, null), 'age')).toMatch(
      /MODEL_SIGNATURE_INVALID|no manifest.sig/,
    );
    const other = agePairPackage(fresh(), privateKey, (m) => {
      (m.combination as { with: { sha256: string } }).with.sha256 = 'ab'.repeat(32);
    });
    expect(await refusal(other, 'age')).toMatch(/paired with image model abababababab/);
    // Pinned to another embedder than the one this board runs (its test-time flip off, the board's on).
    const flipOff = agePairPackage(fresh(), privateKey, (m) => {
      (m.input as { test_time_flip: boolean }).test_time_flip = false;
    });
    expect(await refusal(flipOff, 'age')).toMatch(/does not fit the running embedder.*test-time flip/);
    expect(current()).toBe(before);
  }, 240_000);

  it('refuses a pair larger than the transfer budget at begin, storing nothing', async () => {
    const pkg = ageImagePackage(fresh(), privateKey);
    // A head listing a 700 kB file: the image model alone (0.8 MB) fits the budget, the pair does not.
    const padding = randomBytes(700_000);
    ageHeadPackage(join(pkg, 'head'), privateKey, (m) => {
      writeFileSync(join(pkg, 'head', 'big.tflite'), padding);
      m.files = {
        float32: { path: 'big.tflite', dtype: 'float32', bytes: padding.length, sha256: sha256Hex(padding) },
      };
    });
    const before = current();
    expect(await refusal(pkg, 'age')).toMatch(/budget|no room|bytes/);
    expect(existsSync(transfers) ? readdirSync(transfers) : []).toEqual([]);
    expect(current()).toBe(before);
  }, 180_000);

  it('rolls back by name: the image model and the head pushed with it go back together', async () => {
    const from = daemon.logs.length;
    const probeFrom = probe.messages.length;
    await probe.publish(
      `${ROOT}/bridge/request/model/rollback`,
      JSON.stringify({ transaction: 'age-back', name: 'age' }),
    );
    const reply = await probe.waitUntil(
      () => probe.messages.slice(probeFrom).find((m) => m.topic === `${ROOT}/bridge/response/model/rollback`),
      60_000,
      'the rollback response',
    );
    expect(JSON.parse(reply.text)).toMatchObject({ status: 'ok', data: { rolled_back: true } });
    expect(current()).toBe(pairVersion); // the pair's version: its image model and its head
    await daemon.waitForLog(
      (l) => l.msg === 'head swapped' && l.model === 'age' && daemon.logs.indexOf(l) >= from,
      30_000,
      'the head swapped back',
    );
  }, 180_000);
});
