/**
 * A lock file beside the gallery (`<gallery>.lock`, holding the owner's pid) so that two processes — the
 * daemon and a `faces add`, or two `faces add` — never interleave their read-change-write of one gallery:
 * in one process the store's SerialQueue already orders changes; across processes this lock does. A lock
 * whose process is gone (a crash) is taken over.
 */
import { constants } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
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
    try {
      const file = await open(lockPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        await file.writeFile(String(process.pid));
      } finally {
        await file.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new FaceedgeError('GALLERY_INVALID', `cannot lock the gallery ${path}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
    const holder = Number((await readFile(lockPath, 'utf8').catch(() => '')).trim());
    const crashed = holder > 0 ? !processRuns(holder) : !(await justCreated(lockPath));
    if (crashed) {
      // Its holder is gone: take the lock over.
      await unlink(lockPath).catch(() => undefined);
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
 * True for a lock file younger than a second: its creator may not have written its pid yet (the pid is
 * written just after the exclusive create), so an empty one is not yet a crashed holder's.
 */
async function justCreated(lockPath: string): Promise<boolean> {
  const info = await stat(lockPath).catch(() => null);
  return info !== null && Date.now() - info.mtimeMs < 1000;
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
