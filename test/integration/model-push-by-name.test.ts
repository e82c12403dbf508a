/**
 * MQTT pushes addressed by model name (issue 24 §3) to a real daemon with two models per face, over
 * Mosquitto: a push naming the second model installs into that model's own store (`models.dir/<name>`,
 * with its own self-test and history) and swaps only that model; a push without a name still installs into
 * the first model's store (today's commands keep working); a name the board does not have is refused at
 * `begin` with MODEL_NOT_FOUND before any byte is stored.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { transferIdFor } from '../../src/model-push/mqtt-push-protocol.js';
import { DaemonProcess, daemonConfig, TEST_DEVICE } from '../helpers/daemon-process.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  readManifest,
  signPackage,
} from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { REPO_ROOT } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const CLIP = join(REPO_ROOT, 'demo/clips/face-demographics-walking-and-pause.gif');

describe.skipIf(!SOURCE)(`MQTT pushes by model name (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  const work = mkdtempSync(join(tmpdir(), 'faceedge-push-by-name-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const pubPem = join(work, 'model-signing.pub.pem');
  const modelsDir = join(work, 'state', 'models');
  const transfersDir = join(work, 'state', 'model-transfers');
  const shipped = join(SOURCE!, readManifest(SOURCE!).files.int8.path);
  let broker: Mosquitto;
  let daemon: DaemonProcess;
  let n = 0;

  const signedPackage = (id: string): string => {
    const dir = copyModelPackage(SOURCE!, join(work, `pkg-${n++}`), id);
    signPackage(dir, privateKey);
    return dir;
  };
  const versions = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir) : []);
  const push = (dir: string, name?: string) =>
    pushModelOverMqtt({ dir, url: broker.url, deviceId: TEST_DEVICE, name, timeoutMs: 90_000 });

  beforeAll(async () => {
    writeFileSync(pubPem, publicKey.export({ type: 'spki', format: 'pem' }));
    broker = await Mosquitto.start();
    const config = daemonConfig({
      brokerUrl: broker.url,
      stateDir: join(work, 'state'),
      cameras: [{ name: 'walk', source: { type: 'gif', path: CLIP, loop: true } }],
      extra: {
        tracker: { update_interval_ms: 250 },
        models: { public_key: pubPem },
        classifiers: [
          { name: 'gender', model: shipped },
          { name: 'second', model: shipped, interval_ms: 1000 },
        ],
      },
    });
    daemon = DaemonProcess.start(config, { dir: work });
    await daemon.waitRunning(90_000);
  }, 120_000);
  afterAll(async () => {
    await daemon?.dispose();
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs a push naming the second model into its own store, and swaps only that model', async () => {
    const r = await push(signedPackage('faceedge-second-a'), 'second');
    expect(r.status.state).toBe('installed');
    expect(r.status.model?.id).toBe('faceedge-second-a');
    expect(versions(join(modelsDir, 'second', 'versions'))).toEqual([r.status.model?.version]);
    expect(versions(join(modelsDir, 'versions'))).toEqual([]);
    // Its self-test ran and the second model (only) was reloaded from its store.
    const swapped = await daemon.waitForLog(
      (l) => l.model === 'second' && l.msg.includes('classifier') && JSON.stringify(l).includes('faceedge-second-a'),
      30_000,
      'the second model serving the pushed package',
    );
    expect(swapped).toBeDefined();
  }, 180_000);

  it("installs a push without a name into the first model's store, as before", async () => {
    const r = await push(signedPackage('faceedge-first-b'));
    expect(r.status.state).toBe('installed');
    expect(versions(join(modelsDir, 'versions'))).toEqual([r.status.model?.version]);
    expect(versions(join(modelsDir, 'second', 'versions'))).toHaveLength(1);
  }, 180_000);

  it('keeps the transfer id of an unnamed push, and gives each named model its own', () => {
    const manifest = Buffer.from('{"id":"m"}');
    const unnamed = transferIdFor(manifest, null, 65_536);
    // The id a sender from before model names computed: sha256(manifest ‖ signature ‖ chunk size), 32 hex digits.
    expect(unnamed).toBe(createHash('sha256').update(manifest).update('65536').digest('hex').slice(0, 32));
    expect(
      new Set([unnamed, transferIdFor(manifest, null, 65_536, 'age'), transferIdFor(manifest, null, 65_536, 'mood')])
        .size,
    ).toBe(3);
  });

  it('refuses a name the board does not have at begin, storing nothing', async () => {
    let thrown: unknown;
    try {
      await push(signedPackage('faceedge-nobody'), 'age');
    } catch (err) {
      thrown = err;
    }
    expect(isFaceedgeError(thrown), String(thrown)).toBe(true);
    expect(String((thrown as Error).message)).toMatch(/MODEL_NOT_FOUND|no model named "age"/);
    expect(versions(transfersDir)).toEqual([]);
    expect(existsSync(join(modelsDir, 'age'))).toBe(false);
    const refused = daemon.logs.find((l) => l.msg.startsWith('model push refused') && l.name === 'age');
    expect(refused?.code).toBe('MODEL_NOT_FOUND');
  }, 180_000);
});
