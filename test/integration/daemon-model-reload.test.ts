/**
 * `bridge/request/model/reload` naming a model goes through the install checks, with the real daemon
 * (`models.require_signature: true`, a trusted key on disk) against Mosquitto: an unsigned package, one
 * signed by a stranger, one whose files changed after signing and one that fails its golden self-test
 * are refused with the install path's codes (logged without stack traces) and the serving model keeps
 * classifying; a signed, sound package is served.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  readManifest,
  signPackage,
  writeManifest,
} from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { MqttProbe } from '../helpers/mqtt-probe.js';
import { REPO_ROOT } from '../helpers/run-cli.js';
import { eventsOn } from '../helpers/track-events.js';

const SOURCE = modelPackageSource();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');
const ROOT = `faceedge/${TEST_DEVICE}`;
const EVENTS = `${ROOT}/walk/events`;

interface BridgeResponse {
  status: 'ok' | 'error';
  data: Record<string, any>;
  error?: string;
  transaction?: string;
}

describe.skipIf(!SOURCE)(`model/reload is verified like an install (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const stranger = generateKeyPairSync('ed25519');
  let dir: string;
  let broker: Mosquitto;
  let probe: MqttProbe;
  let daemon: DaemonProcess;
  let int8Name: string;
  let n = 0;

  /** A copy of the shipped package, renamed, edited, then signed by `key` (null: unsigned). */
  function pkg(id: string, key: typeof privateKey | null, edit?: (dir: string) => void): string {
    const target = copyModelPackage(SOURCE!, join(dir, `pkg-${n++}`), id);
    edit?.(target);
    if (key) signPackage(target, key);
    return join(target, int8Name);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'faceedge-daemon-reload-'));
    int8Name = readManifest(SOURCE!).files.int8!.path;
    const publicKeyFile = join(dir, 'signing.pub.pem');
    writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
    broker = await Mosquitto.start();
    probe = await MqttProbe.connect(broker.url, [`${ROOT}/#`]);
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(dir, 'state'),
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      extra: { tracker: { update_interval_ms: 250 }, models: { public_key: publicKeyFile, require_signature: true } },
    });
    daemon = DaemonProcess.start(config, { dir, classifier: join(SOURCE!, int8Name) });
    await daemon.waitRunning();
    await probe.waitFor((m) => m.topic === EVENTS, 30_000, 'a first event');
  });
  afterAll(async () => {
    await daemon?.dispose();
    await probe?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function reload(transaction: string, body: Record<string, unknown>): Promise<BridgeResponse> {
    const from = probe.messages.length;
    await probe.publish(`${ROOT}/bridge/request/model/reload`, JSON.stringify({ transaction, ...body }));
    const reply = await probe.waitUntil(
      () =>
        probe.messages
          .slice(from)
          .find(
            (m) => m.topic === `${ROOT}/bridge/response/model/reload` && JSON.parse(m.text).transaction === transaction,
          ),
      60_000,
      `the response to ${transaction}`,
    );
    return JSON.parse(reply.text) as BridgeResponse;
  }

  const serving = () => eventsOn(probe.messages, EVENTS).at(-1)?.after.model;
  const shippedId = () => readManifest(SOURCE!).id;

  it("refuses an unsigned package, a stranger's, one changed after signing and one failing its self-test; the old model keeps serving", async () => {
    const unsigned = await reload('unsigned', { model: pkg('unsigned', null) });
    expect(unsigned).toMatchObject({ status: 'error', data: { code: 'MODEL_SIGNATURE_INVALID' } });
    expect(unsigned.error).toContain('no manifest.sig');

    const foreign = await reload('foreign', { model: pkg('foreign', stranger.privateKey) });
    expect(foreign).toMatchObject({ status: 'error', data: { code: 'MODEL_SIGNATURE_INVALID' } });
    expect(foreign.error).toMatch(/signed by key [0-9a-f]+, which this board does not trust/);

    const swapped = pkg('swapped', privateKey);
    writeFileSync(
      swapped,
      Buffer.concat([readFileSync(swapped).subarray(0, 2000), Buffer.alloc(readFileSync(swapped).length - 2000)]),
    );
    const changed = await reload('changed', { model: swapped });
    expect(changed).toMatchObject({ status: 'error', data: { code: 'MODEL_CHECKSUM_MISMATCH' } });

    const selftest = await reload('selftest', {
      model: pkg('bad-selftest', privateKey, (d) => {
        const m = readManifest(d);
        m.selftest = (m.selftest as Array<Record<string, number>>).map((c) => ({
          ...c,
          expected_probability: 1 - c.expected_probability!,
          expected_int8_probability: 1 - c.expected_int8_probability!,
        }));
        writeManifest(d, m);
      }),
    });
    expect(selftest).toMatchObject({ status: 'error', data: { code: 'MODEL_SELFTEST_FAILED' } });

    const outside = await reload('outside', {
      model: pkg('outside', privateKey),
      manifest: join(dir, 'manifest.json'),
    });
    expect(outside).toMatchObject({ status: 'error', data: { code: 'REQUEST_INVALID' } });

    // Still serving the shipped model, and still publishing.
    const seq = eventsOn(probe.messages, EVENTS).at(-1)!.seq;
    await probe.waitUntil(
      () => eventsOn(probe.messages, EVENTS).some((e) => e.seq > seq),
      20_000,
      'an event after the refusals',
    );
    expect(serving()).toBe(shippedId());
    // Expected refusals are warnings with code and message, not errors with stack traces.
    const refusals = daemon.logs.filter((l) => l.msg === 'bridge request failed');
    expect(refusals.length).toBeGreaterThanOrEqual(5);
    for (const l of refusals) {
      expect(l.level).toBe(40);
      expect(JSON.stringify(l)).not.toContain('"stack"');
    }
  }, 180_000);

  it('serves a signed, sound package', async () => {
    const ok = await reload('good', { model: pkg('faceedge-reloaded', privateKey) });
    expect(ok).toMatchObject({ status: 'ok', data: { id: 'faceedge-reloaded' } });
    await probe.waitUntil(
      () => eventsOn(probe.messages, EVENTS).some((e) => e.after.model === 'faceedge-reloaded'),
      30_000,
      'an event from the reloaded model',
    );
  }, 120_000);
});
