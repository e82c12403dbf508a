/**
 * The bounds of a board's model push receiver (issue 21 §1), against a real Mosquitto: no trusted key
 * → refused at `begin` with nothing written; one transfer at a time; the byte budget; free space
 * (statfs injected); a stalled transfer abandoned and its chunks deleted; a failed one deleted; leftovers
 * after a restart kept (one, within the limits, until a stall timeout) or deleted; one log line per
 * start and outcome, without package bytes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAsync, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFaceedgeError } from '../../src/errors.js';
import { ModelPushReceiver, type ModelPushReceiverOptions } from '../../src/model-push/model-push-receiver.js';
import { ModelStore } from '../../src/model-push/model-store.js';
import { pushModelOverMqtt } from '../../src/model-push/mqtt-push-sender.js';
import { TransferStore } from '../../src/model-push/transfer-store.js';
import { copyModelPackage, modelPackageSource, readManifest, signPackage } from '../helpers/model-package-fixture.js';
import { sha256Hex } from '../../src/model-push/model-package.js';
import { MAX_PUSH_BEGIN_BYTES } from '../../src/model-push/mqtt-push-protocol.js';
import { Mosquitto } from '../helpers/mosquitto.js';
import { RawPushSender, syntheticTransfer, type SyntheticTransfer } from '../helpers/raw-push.js';

const work = mkdtempSync(join(tmpdir(), 'faceedge-push-bounds-'));
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const SOURCE = modelPackageSource();
let boards = 0;

interface LogLine {
  readonly level: 'info' | 'warn';
  readonly obj: Record<string, unknown>;
  readonly msg: string;
}

interface Board {
  readonly deviceId: string;
  readonly dir: string;
  readonly transfers: TransferStore;
  readonly logs: LogLine[];
  /** Transfer folders on disk. */
  stored(): string[];
  /** Lines about transfer `id`, in order. */
  linesOf(id: string): LogLine[];
  stop(): Promise<void>;
}

type BoardOptions = Partial<Omit<ModelPushReceiverOptions, 'client' | 'deviceId' | 'store' | 'transfers' | 'log'>> & {
  readonly keys?: boolean;
  readonly dir?: string;
  /** A store of the tests' own (a disk that fills up). */
  readonly transferStore?: (root: string) => TransferStore;
  readonly deviceId?: string;
};

async function startBoard(url: string, options: BoardOptions = {}): Promise<Board> {
  const deviceId = options.deviceId ?? `bounds${boards++}`;
  const dir = options.dir ?? join(work, deviceId);
  const client: MqttClient = await connectAsync(url, { reconnectPeriod: 100 });
  const root = join(dir, 'model-transfers');
  const transfers = options.transferStore?.(root) ?? new TransferStore(root);
  const logs: LogLine[] = [];
  const receiver = new ModelPushReceiver({
    verify: { trustedKeys: options.keys === false ? [] : [publicKey] },
    ...options,
    client,
    deviceId,
    store: new ModelStore(join(dir, 'models')),
    transfers,
    log: {
      info: (obj, msg) => void logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
      warn: (obj, msg) => void logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    },
  });
  await receiver.attach();
  return {
    deviceId,
    dir,
    transfers,
    logs,
    stored: () => (existsSync(transfers.root) ? readdirSync(transfers.root) : []),
    linesOf: (id) => logs.filter((l) => l.obj.transfer === id),
    stop: async () => {
      await receiver.detach();
      await client.endAsync();
    },
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('model push bounds', () => {
  let broker: Mosquitto;
  let sender: RawPushSender;
  const senders: RawPushSender[] = [];
  const senderFor = async (deviceId: string) => {
    const s = await RawPushSender.connect(broker.url, deviceId);
    senders.push(s);
    return s;
  };
  beforeAll(async () => {
    broker = await Mosquitto.start();
  });
  afterAll(async () => {
    await Promise.all(senders.map((s) => s.end()));
    await broker?.dispose();
    rmSync(work, { recursive: true, force: true });
  });

  it('a board with no trusted key refuses the first begin with MODEL_PUSH_DISABLED and writes nothing', async () => {
    const board = await startBoard(broker.url, { keys: false });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(100_000);
    try {
      await sender.begin(t);
      const status = await sender.next(t.id, 1);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'MODEL_PUSH_DISABLED' } });
      expect(status.error?.hint).toMatch(/faceedge model keygen/);
      await sender.chunks(t, range(t.plan.total_chunks)); // chunks after the refusal are not stored either
      await sender.commit(t);
      await sleep(300);
      expect(existsSync(board.transfers.root)).toBe(false);
      expect(sender.statuses(t.id)).toHaveLength(1);
      expect(board.linesOf(t.id).map((l) => [l.level, l.obj.outcome, l.obj.code])).toEqual([
        ['warn', 'refused', 'MODEL_PUSH_DISABLED'],
      ]);
    } finally {
      await board.stop();
    }
  });

  it('a begin message over its bound is refused before it is parsed, and nothing is written', async () => {
    const board = await startBoard(broker.url);
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(100_000);
    // A plan padded past the bound with files that would each be valid: the size alone refuses it.
    const padded = { ...t, plan: { ...t.plan, files: Array(4000).fill(t.plan.files[0]) } };
    expect(JSON.stringify(padded.plan).length).toBeGreaterThan(MAX_PUSH_BEGIN_BYTES);
    try {
      await sender.begin(padded);
      const status = await sender.next(t.id, 1);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'REQUEST_INVALID' } });
      expect(status.error?.message).toMatch(/model push begin of \d+ bytes is over its bound of 65536 bytes/);
      expect(board.stored()).toEqual([]);
    } finally {
      await board.stop();
    }
  });

  it.skipIf(!SOURCE)('the sender hears the refusal as a typed error naming the fix', async () => {
    const board = await startBoard(broker.url, { keys: false });
    const pkg = copyModelPackage(SOURCE!, join(work, 'pkg-nokey'), 'no-key');
    signPackage(pkg, privateKey);
    try {
      const err = await pushModelOverMqtt({ dir: pkg, url: broker.url, deviceId: board.deviceId }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isFaceedgeError(err, 'MODEL_PUSH_DISABLED'), String(err)).toBe(true);
      expect((err as Error & { hint?: string }).hint).toMatch(/models\.public_key/);
      expect(board.stored()).toEqual([]);
    } finally {
      await board.stop();
    }
  });

  it('five begins at once: exactly one is received, the others are refused busy', async () => {
    const board = await startBoard(broker.url);
    sender = await senderFor(board.deviceId);
    const all = range(5).map((i) => syntheticTransfer(30_000 + i * 1000));
    try {
      await Promise.all(all.map((t) => sender.begin(t)));
      const answers = await Promise.all(all.map((t) => sender.next(t.id, 1)));
      expect(answers.filter((s) => s.state === 'receiving')).toHaveLength(1);
      expect(answers.filter((s) => s.error?.code === 'MODEL_PUSH_BUSY')).toHaveLength(4);
      expect(board.stored()).toHaveLength(1);
    } finally {
      await board.stop();
    }
  });

  it('two begins at once: one is received, the other is refused busy without naming it; the first resumes', async () => {
    const board = await startBoard(broker.url);
    sender = await senderFor(board.deviceId);
    const [a, b] = [syntheticTransfer(100_000), syntheticTransfer(120_000)];
    try {
      await Promise.all([sender.begin(a), sender.begin(b)]);
      const [sa, sb] = await Promise.all([sender.next(a.id, 1), sender.next(b.id, 1)]);
      const states = [sa.state, sb.state].sort();
      expect(states).toEqual(['failed', 'receiving']);
      const [won, lost, lostStatus] = sa.state === 'receiving' ? [a, b, sb] : [b, a, sa];
      expect(lostStatus.error?.code).toBe('MODEL_PUSH_BUSY');
      expect(JSON.stringify(lostStatus)).not.toContain(won.id);
      expect(board.stored()).toEqual([won.id]);
      // The refused one sends chunks anyway: nothing of it is stored.
      await sender.chunks(lost, [0, 1]);
      await sender.chunks(won, [0, 1, 2]);
      await sender.begin(won); // the same transfer again: a resume, which answers what is missing
      const resumed = await sender.next(won.id, 2);
      expect(resumed).toMatchObject({ state: 'receiving', received: 3, total: won.plan.total_chunks });
      expect(board.stored()).toEqual([won.id]);
      expect(board.linesOf(won.id).map((l) => l.obj.outcome)).toEqual(['started']);
      expect(board.linesOf(won.id)[0].obj).toMatchObject({
        transfer: won.id,
        model: won.plan.model,
        bytes: won.plan.total_bytes,
        chunks: won.plan.total_chunks,
      });
    } finally {
      await board.stop();
    }
  });

  it('a package over the byte budget is refused with MODEL_PUSH_NO_SPACE before anything is stored', async () => {
    const board = await startBoard(broker.url, { budgetBytes: 64 * 1024 });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(100_000);
    try {
      await sender.begin(t);
      const status = await sender.next(t.id, 1);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'MODEL_PUSH_NO_SPACE' } });
      expect(status.error?.message).toMatch(/exceed the model transfer budget of 0\.1 MiB/);
      expect(status.error?.hint).toMatch(/models\.push\.budget_bytes/);
      expect(board.stored()).toEqual([]);
      // Within the budget, the same board takes a transfer.
      const small = syntheticTransfer(40_000);
      await sender.begin(small);
      expect((await sender.next(small.id, 1)).state).toBe('receiving');
    } finally {
      await board.stop();
    }
  });

  it('too little free space (statfs) is refused with the figures, and nothing is stored', async () => {
    const seen: string[] = [];
    const board = await startBoard(broker.url, {
      statfs: async (path) => {
        seen.push(path);
        return { bavail: 1000, bsize: 4096 }; // 3.9 MiB free
      },
    });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(200_000);
    try {
      await sender.begin(t);
      const status = await sender.next(t.id, 1);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'MODEL_PUSH_NO_SPACE' } });
      expect(status.error?.message).toBe(
        'only 3.9 MiB free for model transfers; this push needs 16.4 MiB: 0.2 MiB still to receive, 0.2 MiB for the assembled package and 16.0 MiB kept free',
      );
      expect(status.error?.message).not.toContain(work); // no path goes to the sender
      expect(seen).toEqual([board.transfers.root]);
      expect(board.stored()).toEqual([]);
    } finally {
      await board.stop();
    }
  });

  it('a transfer with no chunk for the stall timeout is abandoned: chunks deleted, sender told, slot free', async () => {
    const board = await startBoard(broker.url, { stallTimeoutMs: 1500 });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(100_000);
    try {
      await sender.begin(t);
      await sender.next(t.id, 1);
      // Chunks keep it alive past one timeout…
      for (const n of range(7)) {
        await sender.chunks(t, [n]);
        await sleep(300);
      }
      expect(board.stored()).toEqual([t.id]);
      expect(readdirSync(join(board.transfers.root, t.id, 'chunks'))).toHaveLength(7);
      // …silence abandons it.
      const status = await sender.next(t.id, 2, 15_000);
      expect(status).toMatchObject({ state: 'failed', error: { code: 'MODEL_TRANSFER_FAILED' } });
      expect(status.error?.message).toMatch(/^abandoned: no chunk for \d+ s$/);
      expect(board.stored()).toEqual([]);
      expect(board.linesOf(t.id).map((l) => [l.level, l.obj.outcome])).toEqual([
        ['info', 'started'],
        ['warn', 'abandoned'],
      ]);
      const next = syntheticTransfer(50_000);
      await sender.begin(next);
      expect((await sender.next(next.id, 1)).state).toBe('receiving');
    } finally {
      await board.stop();
    }
  });

  it('a transfer that fails verification is deleted at once and frees the slot', async () => {
    const board = await startBoard(broker.url);
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(50_000, 16 * 1024, { badSha: true });
    try {
      await sender.begin(t);
      await sender.next(t.id, 1);
      await sender.chunks(t, range(t.plan.total_chunks));
      await sender.commit(t);
      await until('the outcome', () => sender.statuses(t.id).some((s) => s.state === 'failed'));
      expect(sender.statuses(t.id).at(-1)?.error?.code).toBe('MODEL_CHECKSUM_MISMATCH');
      expect(board.stored()).toEqual([]);
      expect(board.linesOf(t.id).map((l) => [l.obj.outcome, l.obj.code])).toEqual([
        ['started', undefined],
        ['failed', 'MODEL_CHECKSUM_MISMATCH'],
      ]);
      const next = syntheticTransfer(50_000);
      await sender.begin(next);
      expect((await sender.next(next.id, 1)).state).toBe('receiving');
    } finally {
      await board.stop();
    }
  });

  it.skipIf(!SOURCE)(
    'a package that is not the model its begin claimed is refused before install, chunks deleted',
    async () => {
      const board = await startBoard(broker.url);
      sender = await senderFor(board.deviceId);
      const pkg = copyModelPackage(SOURCE!, join(work, 'pkg-claim'), 'really-this');
      signPackage(pkg, privateKey);
      const names = ['manifest.json', 'manifest.sig', ...Object.values(readManifest(pkg).files).map((f) => f.path)];
      const parts = names.map((name) => ({ name, data: readFileSync(join(pkg, name)) }));
      const data = Buffer.concat(parts.map((p) => p.data));
      const chunkSize = 64 * 1024;
      const t: SyntheticTransfer = {
        id: 'c'.repeat(32),
        data,
        plan: {
          files: parts.map((p) => ({ name: p.name, bytes: p.data.length, sha256: sha256Hex(p.data) })),
          chunk_size: chunkSize,
          total_bytes: data.length,
          total_chunks: Math.ceil(data.length / chunkSize),
          model: { id: 'innocent', version: 'innocent-000000000000' },
        },
      };
      try {
        await sender.begin(t);
        await sender.next(t.id, 1);
        await sender.chunks(t, range(t.plan.total_chunks));
        await sender.commit(t);
        await until('the outcome', () => sender.statuses(t.id).some((s) => s.state === 'failed'), 30_000);
        expect(sender.statuses(t.id).at(-1)?.error).toMatchObject({
          code: 'MODEL_INVALID',
          message: expect.stringMatching(
            /^the push claimed model innocent \(innocent-000000000000\), the package is really-this \(really-this-[0-9a-f]{12}\)$/,
          ),
        });
        expect(board.stored()).toEqual([]);
        expect(existsSync(join(board.dir, 'models/current'))).toBe(false);
      } finally {
        await board.stop();
      }
    },
  );

  it('a disk that fills up while receiving fails the transfer with MODEL_PUSH_NO_SPACE and deletes its chunks', async () => {
    /** Stores two chunks, then the disk is full. */
    class FillingStore extends TransferStore {
      stored = 0;
      override async putChunk(...args: Parameters<TransferStore['putChunk']>): Promise<void> {
        if (this.stored++ >= 2)
          throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        return super.putChunk(...args);
      }
    }
    const board = await startBoard(broker.url, { transferStore: (root) => new FillingStore(root) });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(100_000);
    try {
      await sender.begin(t);
      await sender.next(t.id, 1);
      await sender.chunks(t, range(t.plan.total_chunks));
      const status = await sender.next(t.id, 2);
      expect(status).toMatchObject({
        state: 'failed',
        error: { code: 'MODEL_PUSH_NO_SPACE', message: 'the disk filled up while receiving' },
      });
      expect(board.stored()).toEqual([]);
      expect(board.linesOf(t.id).map((l) => [l.obj.outcome, l.obj.code])).toEqual([
        ['started', undefined],
        ['failed', 'MODEL_PUSH_NO_SPACE'],
      ]);
    } finally {
      await board.stop();
    }
  });

  describe('leftovers after a restart', () => {
    /** Writes a transfer's plan and its first `chunks` chunks straight into the store, as a killed daemon left them. */
    async function leave(store: TransferStore, t: SyntheticTransfer, chunks: number, ageS: number) {
      await store.begin(t.id, t.plan);
      for (const n of range(chunks)) {
        const size = t.plan.chunk_size;
        await store.putChunk(t.id, t.plan, n, t.data.subarray(n * size, Math.min((n + 1) * size, t.data.length)));
      }
      const when = new Date(Date.now() - ageS * 1000);
      utimesSync(join(store.root, t.id, 'chunks'), when, when);
    }

    it('keep the newest one within the limits for resuming, delete the rest', async () => {
      const dir = join(work, 'restart-a');
      const store = new TransferStore(join(dir, 'model-transfers'));
      const [newest, older, tooBig] = [
        syntheticTransfer(80_000),
        syntheticTransfer(60_000),
        syntheticTransfer(300_000),
      ];
      await leave(store, tooBig, 2, 1);
      await leave(store, newest, 3, 5);
      await leave(store, older, 2, 60);
      const board = await startBoard(broker.url, { dir, deviceId: 'restart-a', budgetBytes: 200_000 });
      sender = await senderFor(board.deviceId);
      try {
        expect(board.stored()).toEqual([newest.id]);
        for (const gone of [older, tooBig]) {
          expect(board.linesOf(gone.id).map((l) => [l.obj.outcome, l.obj.code])).toEqual([
            ['abandoned', 'MODEL_TRANSFER_FAILED'],
          ]);
        }
        // A second transfer is refused busy while the kept one resumes…
        await sender.begin(newest);
        expect(await sender.next(newest.id, 1)).toMatchObject({ state: 'receiving', received: 3 });
        const other = syntheticTransfer(20_000);
        await sender.begin(other);
        expect((await sender.next(other.id, 1)).error?.code).toBe('MODEL_PUSH_BUSY');
        // …and it completes from where it was.
        await sender.chunks(newest, range(newest.plan.total_chunks).slice(3));
        await sender.begin(newest);
        expect(await sender.next(newest.id, 2)).toMatchObject({ received: newest.plan.total_chunks, missing: [] });
      } finally {
        await board.stop();
      }
    });

    it('a kept leftover gives way to a new transfer, and is deleted after one stall timeout if nobody resumes it', async () => {
      const dir = join(work, 'restart-b');
      const store = new TransferStore(join(dir, 'model-transfers'));
      const [left, fresh] = [syntheticTransfer(80_000), syntheticTransfer(40_000)];
      await leave(store, left, 2, 5);
      let board = await startBoard(broker.url, { dir, deviceId: 'restart-b' });
      sender = await senderFor(board.deviceId);
      try {
        expect(board.stored()).toEqual([left.id]);
        await sender.begin(fresh);
        expect((await sender.next(fresh.id, 1)).state).toBe('receiving');
        expect(board.stored()).toEqual([fresh.id]);
        expect(board.linesOf(left.id).map((l) => l.obj.outcome)).toEqual(['abandoned']);
      } finally {
        await board.stop();
      }
      board = await startBoard(broker.url, { dir, deviceId: 'restart-b', stallTimeoutMs: 300 });
      try {
        expect(board.stored()).toEqual([fresh.id]);
        await until('the leftover to be abandoned', () => board.stored().length === 0, 5_000);
        expect(board.linesOf(fresh.id).map((l) => l.obj.outcome)).toEqual(['abandoned']);
      } finally {
        await board.stop();
      }
    });

    it('are all deleted on a board with no trusted key', async () => {
      const dir = join(work, 'restart-c');
      const store = new TransferStore(join(dir, 'model-transfers'));
      await leave(store, syntheticTransfer(30_000), 1, 5);
      const board = await startBoard(broker.url, { dir, deviceId: 'restart-c', keys: false });
      try {
        expect(board.stored()).toEqual([]);
        expect(board.logs.map((l) => [l.obj.outcome, l.obj.err])).toEqual([
          ['abandoned', 'left over; model pushes are off: its chunks were deleted'],
        ]);
      } finally {
        await board.stop();
      }
    });
  });

  it('log lines carry no package bytes', async () => {
    const board = await startBoard(broker.url, { stallTimeoutMs: 300 });
    sender = await senderFor(board.deviceId);
    const t = syntheticTransfer(40_000);
    try {
      await sender.begin(t);
      await sender.next(t.id, 1);
      await sender.chunks(t, [0, 1]);
      await sender.next(t.id, 2, 5_000); // abandoned
      const text = JSON.stringify(board.logs);
      expect(board.logs.length).toBeGreaterThanOrEqual(2);
      expect(text).not.toContain(t.data.subarray(0, 1024).toString('base64').slice(0, 40));
      for (const l of board.logs)
        expect(Object.keys(l.obj)).toEqual(expect.arrayContaining(['transfer', 'model', 'bytes', 'outcome']));
    } finally {
      await board.stop();
    }
  });
});
