/**
 * A lock file beside the gallery (`<gallery>.lock`, holding the owner's pid) so that two processes — the
 * daemon and a `faces add`, or two `faces add` — never interleave their read-change-write of one gallery:
 * in one process the store's SerialQueue already orders changes; across processes this lock does. A lock
 * whose process is gone (a crash) is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { FaceedgeError } from '../errors.js';

/** How long a change waits for another process's change to finish. Default 10 s (a change takes milliseconds). */
export const GALLERY_LOCK_WAIT_MS = 10_000;
const POLL_MS = 20;

/** Runs `job` holding `<path>.lock`; throws GALLERY_INVALID when another live process holds it past `waitMs`. */
export async function withGalleryLock<T>(
  path: string,
  job: () => Promise<T>,
  waitMs = GALLERY_LOCK_WAIT_MS,
): Promise<T> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await tryLock(lockPath, path)) break;
    const holder = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
    if (holder > 0 ? !processRuns(holder) : await unnamedAndOld(lockPath)) {
      // Its holder is gone: take the lock over, unless another process took it over first (the file now
      // names someone else: leave that one alone).
      const still = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
      if (still === holder) await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new FaceedgeError('GALLERY_INVALID', `the gallery ${path} is being changed by process ${holder}`, {
        hint: `try again once it is done; ${lockPath} is removed when it ends`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  try {
    return await job();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}

/**
 * Creates `<gallery>.lock` holding this process's pid, in one step: the pid is written to a file of this
 * process's own first, which is then hard-linked to the lock's name (a link fails if the name exists). So a
 * lock file always names its holder, and an empty one cannot be mistaken for a crashed holder's.
 */
async function tryLock(lockPath: string, path: string): Promise<boolean> {
  const mine = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(mine, String(process.pid), { mode: 0o600, flag: 'wx' });
    await link(mine, lockPath);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new FaceedgeError('GALLERY_INVALID', `cannot lock the gallery ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}

/**
 * A lock file that names no process (damaged: this code always writes the pid with the file) blocks nobody for
 * longer than a default wait: older than GALLERY_LOCK_WAIT_MS, it is taken over.
 */
async function unnamedAndOld(lockPath: string): Promise<boolean> {
  const info = await stat(lockPath).catch(() => null);
  return info !== null && Date.now() - info.mtimeMs > GALLERY_LOCK_WAIT_MS;
}

/** True while a process with this pid runs (EPERM: it runs as another user). */
export function processRuns(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
