/**
 * The transfer store's measurements (what a restart finds, what a transfer occupies) and the admission
 * check built on them: the byte budget and the free space, with statfs injected.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { admissionRefusal, DEFAULT_RESERVE_BYTES, resumableLeftover } from '../../src/model-push/transfer-admission.js';
import { TransferStore } from '../../src/model-push/transfer-store.js';
import { syntheticTransfer, type SyntheticTransfer } from '../helpers/raw-push.js';

const work = mkdtempSync(join(tmpdir(), 'faceedge-transfer-store-'));
let stores = 0;
const newStore = () => new TransferStore(join(work, `store-${stores++}`));
const MiB = 1024 * 1024;
const plenty = async () => ({ bavail: 1e6, bsize: 4096 });

async function storeChunks(store: TransferStore, t: SyntheticTransfer, chunks: number): Promise<void> {
  await store.begin(t.id, t.plan);
  const size = t.plan.chunk_size;
  for (let n = 0; n < chunks; n++) {
    await store.putChunk(t.id, t.plan, n, t.data.subarray(n * size, Math.min((n + 1) * size, t.data.length)));
  }
}

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('TransferStore measurements', () => {
  it('an empty or missing store has no leftovers', async () => {
    const store = newStore();
    expect(await store.leftovers()).toEqual([]);
    expect(await store.storedBytes('0'.repeat(32))).toBe(0);
  });

  it('lists leftovers newest first with their plan and bytes; an unreadable plan is null; other names are not transfers', async () => {
    const store = newStore();
    const [a, b] = [syntheticTransfer(40_000), syntheticTransfer(70_000)];
    await storeChunks(store, a, 2);
    await storeChunks(store, b, 1);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(join(store.root, b.id, 'chunks'), old, old);
    const broken = 'f'.repeat(32);
    mkdirSync(join(store.root, broken));
    writeFileSync(join(store.root, broken, 'plan.json'), '{not json');
    const earlier = new Date(Date.now() - 60_000);
    utimesSync(join(store.root, broken), earlier, earlier); // no chunks folder: the folder's own time counts
    writeFileSync(join(store.root, 'README'), 'not a transfer');

    const found = await store.leftovers();
    expect(found.map((t) => t.id)).toEqual([a.id, broken, b.id]);
    const planBytes = (t: SyntheticTransfer) => Buffer.byteLength(JSON.stringify(t.plan));
    expect(found[0]).toMatchObject({ plan: a.plan, bytes: 2 * 16 * 1024 + planBytes(a) });
    expect(found[1]).toMatchObject({ plan: null, bytes: '{not json'.length });
    expect(found[2]).toMatchObject({ plan: b.plan, bytes: 16 * 1024 + planBytes(b) });
    expect(await store.storedBytes(a.id)).toBe(found[0].bytes);
  });
});

describe('admissionRefusal', () => {
  it('admits a package within the budget and the free space', async () => {
    const store = newStore();
    const t = syntheticTransfer(100_000);
    expect(await admissionRefusal(store, t.id, t.plan, { budgetBytes: MiB, statfs: plenty })).toBeNull();
  });

  it('counts what other transfers hold against the budget', async () => {
    const store = newStore();
    const [held, next] = [syntheticTransfer(60_000), syntheticTransfer(50_000)];
    await storeChunks(store, held, 4);
    const refusal = await admissionRefusal(store, next.id, next.plan, { budgetBytes: 100_000, statfs: plenty });
    expect(refusal?.code).toBe('MODEL_PUSH_NO_SPACE');
    expect(refusal?.message).toMatch(
      /^the package's 0\.0 MiB and 0\.1 MiB already stored exceed the model transfer budget/,
    );
    // The transfer itself resuming is not "another".
    expect(await admissionRefusal(store, held.id, held.plan, { budgetBytes: 100_000, statfs: plenty })).toBeNull();
  });

  it('needs the bytes still to come + the assembled copy + the reserve free, and says which', async () => {
    const store = newStore();
    const t = syntheticTransfer(2 * MiB, 64 * 1024);
    const need = 2 * MiB + 2 * MiB + DEFAULT_RESERVE_BYTES;
    const justEnough = async () => ({ bavail: need / 4096, bsize: 4096 });
    const oneBlockShort = async () => ({ bavail: need / 4096 - 1, bsize: 4096 });
    expect(await admissionRefusal(store, t.id, t.plan, { budgetBytes: 64 * MiB, statfs: justEnough })).toBeNull();
    const refusal = await admissionRefusal(store, t.id, t.plan, { budgetBytes: 64 * MiB, statfs: oneBlockShort });
    expect(refusal?.code).toBe('MODEL_PUSH_NO_SPACE');
    expect(refusal?.message).toBe(
      'only 20.0 MiB free for model transfers; this push needs 20.0 MiB: 2.0 MiB still to receive, 2.0 MiB for the assembled package and 16.0 MiB kept free',
    );
    // Half of it already stored (a resume): only the other half must still fit.
    await storeChunks(store, t, 16);
    expect(await admissionRefusal(store, t.id, t.plan, { budgetBytes: 64 * MiB, statfs: oneBlockShort })).toBeNull();
  });

  it('a disk that cannot be measured is an error, not an admission', async () => {
    const store = newStore();
    const t = syntheticTransfer(10_000);
    const failing = async (): Promise<{ bavail: number; bsize: number }> => {
      throw Object.assign(new Error('EIO: i/o error, statfs'), { code: 'EIO' });
    };
    await expect(admissionRefusal(store, t.id, t.plan, { budgetBytes: MiB, statfs: failing })).rejects.toThrow(/EIO/);
  });
});

describe('resumableLeftover', () => {
  const t = syntheticTransfer(100_000);
  const at = (bytes: number, plan = t.plan as typeof t.plan | null, id = t.id) => ({ id, plan, bytes, mtimeMs: 0 });

  it('keeps the newest leftover whose plan is within the limit and whose files fit its plan', () => {
    const big = syntheticTransfer(300_000);
    const leftovers = [
      at(10, big.plan, big.id),
      at(10, null, 'a'.repeat(32)),
      at(50_000),
      at(20_000, t.plan, 'b'.repeat(32)),
    ];
    expect(resumableLeftover(leftovers, 200_000)?.id).toBe(t.id);
    expect(resumableLeftover(leftovers, 50_000)).toBeNull();
  });

  it('refuses one holding more than its plan allows (chunks + plan + one partial chunk)', () => {
    const allowed = t.plan.total_bytes + t.plan.chunk_size + 65_536;
    expect(resumableLeftover([at(allowed)], 1e9)?.id).toBe(t.id);
    expect(resumableLeftover([at(allowed + 1)], 1e9)).toBeNull();
  });
});
