/**
 * `faceedge model push --mqtt` against a real Mosquitto: the board side is a ModelPushReceiver on its
 * own MQTT.js connection (as the daemon attaches it), installing into a temp model store. Covers a
 * clean push, a refused package, lost chunks repaired by the next round, and a push resumed after the
 * sender was aborted and the board restarted.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import {
  ModelPushReceiver,
  type ModelPushReceiverOptions,
  type PushClient,
} from '../../src/model-push/model-push-receiver.js';
import { ModelStore, type InstalledModel } from '../../src/model-push/model-store.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { TransferStore } from '../../src/model-push/transfer-store.js';
import {
  copyModelPackage,
  modelPackageSource,
  NO_MODEL_PACKAGE_REASON,
  signPackage,
} from '../helpers/model-package-fixture.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { runCli } from '../helpers/run-cli.js';

const SOURCE = modelPackageSource();
const work = mkdtempSync(join(tmpdir(), 'faceedge-push-mqtt-'));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const stranger = generateKeyPairSync('ed25519');
const CHUNK = 16 * 1024;
let n = 0;

interface Board {
  readonly store: ModelStore;
  readonly transfers: TransferStore;
  readonly installed: InstalledModel[];
  readonly client: MqttClient;
  readonly receiver: ModelPushReceiver;
  stop(): Promise<void>;
}

/** A board: its own connection and receiver over `dir`; `wrap` may interpose on the client (lossy link). */
async function startBoard(
  url: string,
  deviceId: string,
  dir: string,
  options: { wrap?: (c: MqttClient) => PushClient; maxBytes?: number; log?: ModelPushReceiverOptions['log'] } = {},
): Promise<Board> {
  const client = await connectAsync(url, { reconnectPeriod: 100 });
  const store = new ModelStore(join(dir, 'models'));
  const transfers = new TransferStore(join(dir, 'model-push'));
  const installed: InstalledModel[] = [];
  const receiver = new ModelPushReceiver({
    client: options.wrap ? options.wrap(client) : client,
    deviceId,
    store,
    transfers,
    maxBytes: options.maxBytes,
    verify: { trustedKeys: [publicKey] },
    onInstalled: (m) => void installed.push(m),
    log: options.log,
  });
  await receiver.attach();
  return {
    store,
    transfers,
    installed,
    client,
    receiver,
    stop: async () => {
      await receiver.detach();
      await client.endAsync();
    },
  };
}

function signed(id: string, key = privateKey): string {
  const dir = copyModelPackage(SOURCE!, join(work, `pkg-${n++}`), id);
  signPackage(dir, key);
  return dir;
}

describe.skipIf(!SOURCE)(`model push over MQTT (${SOURCE ?? NO_MODEL_PACKAGE_REASON})`, () => {
  let broker: Mosquitto;
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('installs a signed package sent in chunks, and tells the daemon to reload it', async () => {
    const board = await startBoard(broker.url, 'cam1', join(work, 'board-a'));
    try {
      const r = await pushModelOverMqtt({
        dir: signed('mqtt-good'),
        url: broker.url,
        deviceId: 'cam1',
        chunkSize: CHUNK,
      });
      expect(r.status).toMatchObject({
        state: 'installed',
        model: { id: 'mqtt-good', unchanged: false, previous: null },
      });
      expect(r.chunksSent).toBe(r.totalChunks);
      expect(r.totalChunks).toBeGreaterThan(50);
      const current = await board.store.current();
      expect(current?.manifest.id).toBe('mqtt-good');
      expect(board.installed.map((m) => m.modelPath)).toEqual([current!.modelPath]);
      expect(readdirSync(board.transfers.root)).toEqual([]); // chunks removed once installed
    } finally {
      await board.stop();
    }
  });

  it("a refused package comes back as the board's typed error; the old model stays", async () => {
    const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
    const log = {
      info: () => {},
      warn: (obj: object, msg: string) => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
    };
    const board = await startBoard(broker.url, 'cam2', join(work, 'board-b'), { log });
    try {
      await pushModelOverMqtt({ dir: signed('mqtt-first'), url: broker.url, deviceId: 'cam2', chunkSize: CHUNK });
      const err = await pushModelOverMqtt({
        dir: signed('mqtt-stranger', stranger.privateKey),
        url: broker.url,
        deviceId: 'cam2',
        chunkSize: CHUNK,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFaceedgeError(err, 'MODEL_SIGNATURE_INVALID'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(
        /^device refused the model: the package is signed by key [0-9a-f]+, which this board does not trust \(trusted: [0-9a-f]+\)$/,
      );
      expect((await board.store.current())?.manifest.id).toBe('mqtt-first');
      expect(board.installed).toHaveLength(1);
      expect(readdirSync(board.transfers.root)).toEqual([]);
      // An expected refusal: logged with its code and message, not an Error object with a stack trace.
      const refusal = warnings.find((w) => w.msg.startsWith('model push failed'));
      expect(refusal?.obj).toMatchObject({
        code: 'MODEL_SIGNATURE_INVALID',
        err: expect.stringContaining('does not trust'),
      });
      expect(warnings.some((w) => Object.values(w.obj).some((v) => v instanceof Error))).toBe(false);
    } finally {
      await board.stop();
    }
  });

  it('chunks lost on the way are reported missing at commit and resent in the next round', async () => {
    const dropped = new Set<string>();
    // Drops the first delivery of every 7th chunk between the broker and the receiver.
    const lossy = (client: MqttClient): PushClient => ({
      subscribeAsync: client.subscribeAsync.bind(client),
      unsubscribeAsync: client.unsubscribeAsync.bind(client),
      publishAsync: client.publishAsync.bind(client),
      removeListener: client.removeListener.bind(client),
      on: ((event: 'message', handler: (topic: string, payload: Buffer, packet: unknown) => void) => {
        client.on(event, (topic, payload, packet) => {
          const m = /\/(\d+)$/.exec(topic);
          if (m && Number(m[1]) % 7 === 0 && !dropped.has(topic)) return void dropped.add(topic);
          handler(topic, payload, packet);
        });
        return client;
      }) as PushClient['on'],
    });
    const board = await startBoard(broker.url, 'cam3', join(work, 'board-c'), { wrap: lossy });
    try {
      const r = await pushModelOverMqtt({
        dir: signed('mqtt-lossy'),
        url: broker.url,
        deviceId: 'cam3',
        chunkSize: CHUNK,
      });
      expect(r.status.state).toBe('installed');
      expect(dropped.size).toBe(Math.ceil(r.totalChunks / 7));
      expect(r.chunksSent).toBe(r.totalChunks + dropped.size);
    } finally {
      await board.stop();
    }
  });

  it('resumes after the sender is killed and the board restarts: only the missing chunks are sent again', async () => {
    const dir = join(work, 'board-d');
    const pkg = signed('mqtt-resume');
    let board = await startBoard(broker.url, 'cam4', dir);
    const abort = new AbortController();
    const first = await pushModelOverMqtt({
      dir: pkg,
      url: broker.url,
      deviceId: 'cam4',
      chunkSize: CHUNK,
      window: 1,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.sent >= 30) abort.abort();
      },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isFaceedgeError(first, 'MODEL_TRANSFER_FAILED')).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // let the last acknowledged chunks reach the disk
    await board.stop();

    const [transfer] = readdirSync(board.transfers.root);
    const kept = readdirSync(join(board.transfers.root, transfer, 'chunks')).filter((f) => /^\d+$/.test(f)).length;
    expect(kept).toBeGreaterThan(0);
    const plan = JSON.parse(readFileSync(join(board.transfers.root, transfer, 'plan.json'), 'utf8')) as {
      total_chunks: number;
    };
    expect(kept).toBeLessThan(plan.total_chunks);
    expect(existsSync(join(dir, 'models/current'))).toBe(false);

    board = await startBoard(broker.url, 'cam4', dir); // the daemon restarted: a new receiver over the same state
    try {
      const second = await pushModelOverMqtt({ dir: pkg, url: broker.url, deviceId: 'cam4', chunkSize: CHUNK });
      expect(second.status.state).toBe('installed');
      expect(second.transferId).toBe(transfer);
      expect(second.chunksSent).toBe(second.totalChunks - kept);
      expect((await board.store.current())?.manifest.id).toBe('mqtt-resume');
    } finally {
      await board.stop();
    }
  });

  it('refuses a package over the size limit before receiving it', async () => {
    const board = await startBoard(broker.url, 'cam5', join(work, 'board-e'), { maxBytes: 100_000 });
    try {
      const err = await pushModelOverMqtt({
        dir: signed('mqtt-big'),
        url: broker.url,
        deviceId: 'cam5',
        chunkSize: CHUNK,
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFaceedgeError(err, 'REQUEST_INVALID'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/exceeds the 100000-byte limit/);
    } finally {
      await board.stop();
    }
  });

  it('faceedge model push <dir> --mqtt <url> --device <id> (CLI)', async () => {
    const board = await startBoard(broker.url, 'cam6', join(work, 'board-f'));
    try {
      const r = await runCli(['model', 'push', signed('mqtt-cli'), '--mqtt', broker.url, '--device', 'cam6']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^cam6: installed mqtt-cli-[0-9a-f]{12}; sent (\d+)\/\1 chunks\n$/);
      expect((await board.store.current())?.manifest.id).toBe('mqtt-cli');
    } finally {
      await board.stop();
    }
  });
});
