/**
 * Keeps the lock's lockout state (src/rules/access-lockout.ts) across a restart, in
 * `<state_dir>/access-lockout.json`: without it, an attacker who can power-cycle the board, or crash the
 * daemon, clears the attempts counted against a camera and any lockout in force.
 *
 * - **Written** after every change, atomically (a temporary file in the same folder, mode 0600, fsync'd,
 *   renamed, the folder fsync'd), one write at a time, the latest state winning: a power cut leaves the old
 *   state or the new one.
 * - **Read** once at start: at most {@link MAX_LOCKOUT_FILE_BYTES}, validated by a schema (bounded: at most
 *   {@link MAX_LOCKOUT_CAMERAS} cameras, 1000 attempts each). A file that cannot be read, is too large, is not
 *   JSON or does not match is **damaged**: the caller locks every camera out for `duration_s` (fail-secure) and
 *   says so in one log line; a missing file is a first start.
 * - **Time.** The file holds wall-clock ms (Unix), the engine counts monotonic ms (`performance.now()`, the
 *   RuleRunner's default clock); each read and write maps one onto the other. A board without a real-time
 *   clock may start with a clock behind the one that wrote the file: then the time it was off is not counted
 *   (the lockout goes on for what was left of it), never the other way round. A lockout never outlasts a full
 *   `duration_s` after the restart (AccessLockout.restore).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../observability/logger.js';
import type { LockoutSnapshot } from './access-lockout.js';

/** The lockout state's file name under `state_dir`. */
export const LOCKOUT_FILE_NAME = 'access-lockout.json';
/** Mode of the lockout file: owner read/write only (it is the lock's memory, not anyone's to edit). */
export const LOCKOUT_FILE_MODE = 0o600;
/** Cameras kept in the file: far more than a board has. */
export const MAX_LOCKOUT_CAMERAS = 256;
/** Largest lockout file read, bytes: 256 cameras × 1000 attempts would not fit, but a real state is < 1 KiB. */
export const MAX_LOCKOUT_FILE_BYTES = 256 * 1024;

const wallMs = z.number().finite().nonnegative();
const lockoutFileSchema = z.strictObject({
  version: z.literal(1),
  /** When it was written, Unix ms. */
  saved_at: wallMs,
  cameras: z
    .record(
      z.string().min(1).max(128),
      z.strictObject({ attempts: z.array(wallMs).max(1000), locked_until: wallMs.optional() }),
    )
    .refine((c) => Object.keys(c).length <= MAX_LOCKOUT_CAMERAS, `at most ${MAX_LOCKOUT_CAMERAS} cameras`),
  all_locked_until: wallMs.optional(),
});
type LockoutFile = z.output<typeof lockoutFileSchema>;

/** The two clocks a store maps between. Default: `performance.now()` (engine) and `Date.now()` (wall). */
export interface LockoutClocks {
  readonly engineMs: () => number;
  readonly wallMs: () => number;
}

/** What {@link LockoutStore.load} found. */
export type LoadedLockout =
  | { readonly kind: 'none' }
  | { readonly kind: 'restored'; readonly snapshot: LockoutSnapshot; readonly nowMs: number }
  | { readonly kind: 'damaged'; readonly reason: string; readonly nowMs: number };

export class LockoutStore {
  readonly #file: string;
  readonly #log: Logger;
  readonly #clocks: LockoutClocks;
  #chain: Promise<void> = Promise.resolve();
  /** The latest state not written yet (a write in flight takes it when it starts). */
  #pending: LockoutSnapshot | null = null;

  /** @param file `<state_dir>/access-lockout.json`; its folder is made (0700) if missing. */
  constructor(file: string, log: Logger, clocks: Partial<LockoutClocks> = {}) {
    this.#file = file;
    this.#log = log;
    this.#clocks = { engineMs: () => performance.now(), wallMs: () => Date.now(), ...clocks };
  }

  /** Reads the state kept by the last run, mapped to engine ms. Never rejects: damage is a result. */
  async load(): Promise<LoadedLockout> {
    const nowMs = this.#clocks.engineMs();
    let text: string;
    try {
      const { size } = await stat(this.#file);
      if (size > MAX_LOCKOUT_FILE_BYTES) return { kind: 'damaged', reason: `${size} bytes, over the bound`, nowMs };
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
      return { kind: 'damaged', reason: `unreadable: ${(err as Error).message}`, nowMs };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { kind: 'damaged', reason: 'not JSON', nowMs };
    }
    const parsed = lockoutFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return { kind: 'damaged', reason: `${issue.path.join('.') || '(top)'}: ${issue.message}`, nowMs };
    }
    return { kind: 'restored', snapshot: this.#toEngine(parsed.data, nowMs), nowMs };
  }

  /** Writes `snapshot` (engine ms) after any write under way; only the latest waiting state is written. */
  save(snapshot: LockoutSnapshot): void {
    const first = this.#pending === null;
    this.#pending = snapshot;
    if (!first) return;
    this.#chain = this.#chain.then(async () => {
      const latest = this.#pending;
      this.#pending = null;
      if (latest === null) return;
      try {
        await this.#write(this.#toFile(latest));
      } catch (err) {
        // The lockout still holds in memory; the next change tries again.
        this.#log.error({ file: this.#file, err: (err as Error).message }, 'lockout state not saved');
      }
    });
  }

  /** Resolves once every state saved so far is on disk (or failed and was logged). */
  flush(): Promise<void> {
    return this.#chain;
  }

  /** Engine ms of a wall time, as of the read; the time the board was off counts only if the clock shows it. */
  #toEngine(file: LockoutFile, nowMs: number): LockoutSnapshot {
    const wallNow = Math.max(this.#clocks.wallMs(), file.saved_at);
    const engine = (t: number) => nowMs - (wallNow - t);
    const cameras: Record<string, { attempts: number[]; lockedUntil?: number }> = {};
    for (const [camera, c] of Object.entries(file.cameras)) {
      const attempts = [...c.attempts].sort((a, b) => a - b).map(engine);
      cameras[camera] = c.locked_until === undefined ? { attempts } : { attempts, lockedUntil: engine(c.locked_until) };
    }
    return file.all_locked_until === undefined
      ? { cameras }
      : { cameras, allLockedUntil: engine(file.all_locked_until) };
  }

  #toFile(snapshot: LockoutSnapshot): LockoutFile {
    const wallNow = this.#clocks.wallMs();
    const offset = wallNow - this.#clocks.engineMs();
    const wall = (t: number) => Math.max(0, Math.round(t + offset));
    const cameras: LockoutFile['cameras'] = {};
    for (const [camera, c] of Object.entries(snapshot.cameras).slice(0, MAX_LOCKOUT_CAMERAS)) {
      const attempts = c.attempts.slice(-1000).map(wall);
      cameras[camera] = c.lockedUntil === undefined ? { attempts } : { attempts, locked_until: wall(c.lockedUntil) };
    }
    const all = snapshot.allLockedUntil;
    return { version: 1, saved_at: wallNow, cameras, ...(all === undefined ? {} : { all_locked_until: wall(all) }) };
  }

  async #write(state: LockoutFile): Promise<void> {
    const dir = dirname(this.#file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = join(dir, `.${basename(this.#file)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, LOCKOUT_FILE_MODE);
      try {
        await file.chmod(LOCKOUT_FILE_MODE); // a umask can only narrow it; be sure it is not wider either
        await file.writeFile(`${JSON.stringify(state)}\n`);
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(temp, this.#file);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    const folder = await open(dir, constants.O_RDONLY);
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}
