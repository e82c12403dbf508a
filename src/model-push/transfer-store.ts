/**
 * The board's record of MQTT transfers in progress: `<root>/<transfer id>/plan.json` and one file per
 * received chunk (`chunks/<n>`, written to a temporary name and renamed, so a crash never leaves a
 * short chunk that would count as received). Survives daemon restarts, which is what makes a push
 * resumable. What may be stored, and which leftovers a restart keeps, is the receiver's decision
 * (mqtt-push-protocol.ts); this store only measures (`leftovers`, `storedBytes`) and deletes.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { FaceedgeError } from '../errors.js';
import { chunkLength, isTransferId, transferPlanSchema, type TransferPlan } from './mqtt-push-protocol.js';

/** A transfer found on disk (after a restart): its plan when readable, what it occupies, when it was last written. */
export interface StoredTransfer {
  readonly id: string;
  /** Null when `plan.json` is missing or unreadable: such a leftover can only be deleted. */
  readonly plan: TransferPlan | null;
  /** Bytes of its files on disk (chunks, partial chunks, the plan). */
  readonly bytes: number;
  /** Last write to its chunks (or its folder), ms since the epoch. */
  readonly mtimeMs: number;
}

export class TransferStore {
  constructor(readonly root: string) {}

  #dir(id: string): string {
    if (!isTransferId(id)) throw new FaceedgeError('REQUEST_INVALID', `bad transfer id ${JSON.stringify(id)}`);
    return join(this.root, id);
  }

  /** The saved plan, or null when this transfer is unknown. */
  async plan(id: string): Promise<TransferPlan | null> {
    const text = await readFile(join(this.#dir(id), 'plan.json'), 'utf8').catch(() => null);
    if (text === null) return null;
    const parsed = transferPlanSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  }

  /** Starts (or keeps, when the plan is identical) a transfer; a different plan under the same id starts over. */
  async begin(id: string, plan: TransferPlan): Promise<void> {
    const dir = this.#dir(id);
    const existing = await this.plan(id);
    if (existing && JSON.stringify(existing) === JSON.stringify(plan)) return;
    await rm(dir, { recursive: true, force: true });
    await mkdir(join(dir, 'chunks'), { recursive: true });
    await writeFile(join(dir, 'plan.json.tmp'), JSON.stringify(plan));
    await rename(join(dir, 'plan.json.tmp'), join(dir, 'plan.json'));
  }

  /** Stores chunk `n` after checking its index and length against the plan. */
  async putChunk(id: string, plan: TransferPlan, n: number, data: Buffer): Promise<void> {
    if (!Number.isInteger(n) || n < 0 || n >= plan.total_chunks) {
      throw new FaceedgeError('REQUEST_INVALID', `chunk ${n} is outside 0…${plan.total_chunks - 1}`);
    }
    if (data.length !== chunkLength(plan, n)) {
      throw new FaceedgeError(
        'REQUEST_INVALID',
        `chunk ${n} has ${data.length} bytes, expected ${chunkLength(plan, n)}`,
      );
    }
    const chunks = join(this.#dir(id), 'chunks');
    await writeFile(join(chunks, `${n}.tmp`), data);
    await rename(join(chunks, `${n}.tmp`), join(chunks, String(n)));
  }

  /** Indices of chunks not received yet, ascending. */
  async missing(id: string, plan: TransferPlan): Promise<number[]> {
    const have = new Set(
      (await readdir(join(this.#dir(id), 'chunks')).catch(() => [] as string[]))
        .filter((f) => /^\d+$/.test(f))
        .map(Number),
    );
    const out: number[] = [];
    for (let n = 0; n < plan.total_chunks; n++) if (!have.has(n)) out.push(n);
    return out;
  }

  /**
   * Writes the planned files into `dest` from the chunks, checking each file's sha256 against the
   * plan (catches a corrupted chunk before the heavier package checks run).
   */
  async assemble(id: string, plan: TransferPlan, dest: string): Promise<void> {
    const chunks = join(this.#dir(id), 'chunks');
    let n = 0;
    let buffer = Buffer.alloc(0);
    for (const file of plan.files) {
      const out = createWriteStream(join(dest, file.name));
      const hash = createHash('sha256');
      let left = file.bytes;
      while (left > 0) {
        if (buffer.length === 0) buffer = await readFile(join(chunks, String(n++)));
        const piece = buffer.subarray(0, Math.min(left, buffer.length));
        buffer = buffer.subarray(piece.length);
        left -= piece.length;
        hash.update(piece);
        if (!out.write(piece)) await new Promise<void>((r) => out.once('drain', () => r()));
      }
      out.end();
      await finished(out);
      const sha = hash.digest('hex');
      if (sha !== file.sha256) {
        throw new FaceedgeError(
          'MODEL_CHECKSUM_MISMATCH',
          `${file.name}: received sha256 ${sha}, the sender announced ${file.sha256}`,
          { hint: 'push again' },
        );
      }
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.#dir(id), { recursive: true, force: true });
  }

  /** Creates the root folder (so its file system can be measured before the first transfer). */
  async ensureRoot(): Promise<void> {
    await mkdir(this.root, { recursive: true });
  }

  /** Bytes transfer `id` occupies on disk (0 when it is unknown). */
  async storedBytes(id: string): Promise<number> {
    return folderBytes(this.#dir(id));
  }

  /**
   * Every transfer folder in the store, newest first. Entries whose name is not a transfer id are not
   * transfers (nothing here writes them) and are left alone.
   */
  async leftovers(): Promise<StoredTransfer[]> {
    const found: StoredTransfer[] = [];
    for (const id of await readdir(this.root).catch(() => [] as string[])) {
      if (!isTransferId(id)) continue;
      const dir = join(this.root, id);
      const info = (await stat(join(dir, 'chunks')).catch(() => null)) ?? (await stat(dir).catch(() => null));
      const plan = await this.plan(id).catch(() => null);
      found.push({ id, plan, bytes: await folderBytes(dir), mtimeMs: info?.mtimeMs ?? 0 });
    }
    return found.sort((a, b) => b.mtimeMs - a.mtimeMs);
  }
}

/** Sum of the sizes of the plain files under `dir` (links are not followed), 0 when it does not exist. */
async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else if (entry.isFile()) total += (await lstat(path).catch(() => null))?.size ?? 0;
  }
  return total;
}
