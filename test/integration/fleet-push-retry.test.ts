/**
 * The MQTT push under load, against a real Mosquitto and a real receiver: a board too slow to answer
 * within the answer timeout still gets its package (the sender uses late answers, backs off between
 * rounds and resends no chunk the board already stored), a board that never answers is given up within
 * the push's time bound, and the error names the cause of every failed round.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { ModelPushReceiver, type PushClient } from '../../src/model-push/model-push-receiver.js';
import { ModelStore } from '../../src/model-push/model-store.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { TransferStore } from '../../src/model-push/transfer-store.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  signPackage,
} from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';

const SOURCE = modelPackageSource();
const work = mkdtempSync(join(tmpdir(), 'faceedge-push-retry-'));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const CHUNK = 64 * 1024;

/** A board whose every status reaches the broker `delayMs` late, as a daemon on a starved CPU answers. */
async function slowBoard(url: string, deviceId: string, delayMs: number) {
  const client: MqttClient = await connectAsync(url, { reconnectPeriod: 100 });
  const slow: PushClient = {
    subscribeAsync: client.subscribeAsync.bind(client),
    unsubscribeAsync: client.unsubscribeAsync.bind(client),
    publishAsync: async (topic, payload, options) => {
      await new Promise((r) => setTimeout(r, delayMs));
      return client.publishAsync(topic, payload, options);
    },
    on: client.on.bind(client) as PushClient['on'],
    removeListener: client.removeListener.bind(client) as PushClient['removeListener'],
  };
  const dir = join(work, deviceId);
  const store = new ModelStore(join(dir, 'models'));
  const receiver = new ModelPushReceiver({
    client: slow,
    deviceId,
    store,
    transfers: new TransferStore(join(dir, 'model-push')),
    verify: { trustedKeys: [publicKey] },
  });
  await receiver.attach();
  return {
    store,
    stop: async () => {
      await receiver.detach();
      await client.endAsync();
    },
  };
}

describe.skipIf(!SOURCE)(`model push retries (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('completes on a board that answers later than the answer timeout, resending nothing it stored', async () => {
    const pkg = copyModelPackage(SOURCE!, join(work, 'pkg-slow'), 'slow-board');
    signPackage(pkg, privateKey);
    const board = await slowBoard(broker.url, 'slow1', 2500);
    const retries: string[] = [];
    try {
      const r = await pushModelOverMqtt({
        dir: pkg,
        url: broker.url,
        deviceId: 'slow1',
        chunkSize: CHUNK,
        answerTimeoutMs: 1500,
        retryDelayMs: 200,
        timeoutMs: 60_000,
        onRetry: (x) => void retries.push(x.cause),
      });
      expect(r.status.state).toBe('installed');
      expect((await board.store.current())?.manifest.id).toBe('slow-board');
      expect(r.rounds).toBeGreaterThan(1);
      expect(retries[0]).toMatch(/^round 1: no answer to begin within 1\.5 s$/);
      expect(r.retries).toEqual(retries);
      expect(r.chunksSent).toBe(r.totalChunks); // the late answers were used: no chunk went twice
    } finally {
      await board.stop();
    }
  }, 90_000);

  it('gives up on a board that never answers within the time bound, backing off, and names every cause', async () => {
    const pkg = copyModelPackage(SOURCE!, join(work, 'pkg-none'), 'no-board');
    signPackage(pkg, privateKey);
    const waits: number[] = [];
    const started = Date.now();
    const err = await pushModelOverMqtt({
      dir: pkg,
      url: broker.url,
      deviceId: 'nobody',
      answerTimeoutMs: 500,
      retryDelayMs: 100,
      timeoutMs: 3000,
      maxRounds: 100,
      onRetry: (x) => void waits.push(x.waitMs),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    const tookMs = Date.now() - started;
    expect(isFaceedgeError(err, 'MODEL_TRANSFER_FAILED'), String(err)).toBe(true);
    expect(tookMs).toBeLessThan(4500);
    expect(waits.slice(0, 3)).toEqual([100, 200, 400]); // doubling pauses between rounds
    const message = (err as Error).message;
    expect(message).toMatch(/^device nobody did not complete the transfer in \d+ rounds over \d s: /);
    expect(message).toMatch(/round 1: no answer to begin within 0\.5 s; round 2: no answer to begin within 0\.5 s/);
    expect((err as { hint?: string }).hint).toMatch(/Rerun the push to resume/);
  }, 30_000);

  it('an abort ends the push at once, also during the pause between rounds', async () => {
    const pkg = copyModelPackage(SOURCE!, join(work, 'pkg-abort'), 'aborted');
    signPackage(pkg, privateKey);
    const abort = new AbortController();
    const started = Date.now();
    const err = await pushModelOverMqtt({
      dir: pkg,
      url: broker.url,
      deviceId: 'nobody2',
      answerTimeoutMs: 300,
      retryDelayMs: 10_000,
      signal: abort.signal,
      onRetry: () => setTimeout(() => abort.abort(), 200),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(err, 'MODEL_TRANSFER_FAILED')).toBe(true);
    expect((err as Error).message).toBe('model push aborted');
    expect(Date.now() - started).toBeLessThan(3000);
  }, 30_000);
});
