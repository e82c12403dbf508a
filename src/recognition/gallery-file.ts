/**
 * Reading and replacing the gallery file on disk. A write goes to a temporary file in the same folder
 * (mode 0600 from its creation), is fsync'd, renamed over the gallery and the folder fsync'd: a crash or
 * power cut at any point leaves either the old gallery or the new one, never a mix. A temporary file a
 * crash left behind holds a gallery's contents (maybe a person removed since), so every write first
 * deletes those whose writer is gone.
 */
import { constants } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { FaceedgeError } from '../errors.js';
import { processRuns } from './gallery-lock.js';

/** Test seam: called between the temporary file's fsync and its rename (a crash there is what tests simulate). */
export interface AtomicWriteHooks {
  readonly beforeRename?: (tempPath: string) => void | Promise<void>;
}

const tempPrefix = (path: string) => `.${basename(path)}.tmp-`;

/** The gallery file's bytes, or null when there is none. Throws GALLERY_LIMIT above `maxBytes`. */
export async function readGalleryFile(path: string, maxBytes: number): Promise<Buffer | null> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new FaceedgeError('GALLERY_INVALID', `cannot read the gallery ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (size > maxBytes) {
    throw new FaceedgeError('GALLERY_LIMIT', `the gallery ${path} is ${size} bytes, more than the ${maxBytes} allowed`);
  }
  try {
    return await readFile(path);
  } catch (err) {
    throw new FaceedgeError('GALLERY_INVALID', `cannot read the gallery ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Replaces `path` with `bytes` atomically and durably, mode 0600 (see the module comment). */
export async function writeGalleryFile(path: string, bytes: Uint8Array, hooks: AtomicWriteHooks = {}): Promise<void> {
  const dir = dirname(path);
  await removeOrphanedTemps(path);
  const temp = join(dir, `${tempPrefix(path)}${process.pid}-${randomBytes(6).toString('hex')}`);
  try {
    const file = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      // The umask can only clear bits of 0600, but a shared umask of 0 must not leave it wider either.
      await file.chmod(0o600);
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await hooks.beforeRename?.(temp);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    if (err instanceof FaceedgeError) throw err;
    throw new FaceedgeError('GALLERY_INVALID', `cannot write the gallery ${path}: ${(err as Error).message}`, {
      hint: `the folder ${dir} must exist and be writable by this user`,
      cause: err,
    });
  }
  await syncDir(dir);
}

/**
 * Deletes temporary gallery files whose writing process no longer runs (a crash's leftovers), so that no
 * copy of an older gallery outlives a removal. A temporary file of a live process is its write in flight.
 */
export async function removeOrphanedTemps(path: string): Promise<number> {
  const prefix = tempPrefix(path);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (pid !== process.pid && processRuns(pid)) continue;
    // Our own pid: the caller's owner serialises our writes, so no write of ours is in flight here.
    await unlink(join(dirname(path), name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
